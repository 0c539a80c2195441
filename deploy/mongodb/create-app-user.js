// Run once by the mongo image when the data volume is new (/docker-entrypoint-initdb.d):
// creates the app's own user, with readWrite on the app's database only. Its name and
// password are read from the same secret the app connects with (secrets/mongodb_url), so
// they are written in one place.
const fs = require("fs");
const url = fs.readFileSync("/run/secrets/mongodb_url", "utf8").trim();
const credentials = /^mongodb:\/\/([^:@/]+):([^@/]+)@/.exec(url);
if (!credentials) {
  throw new Error("secrets/mongodb_url must be mongodb://USER:PASSWORD@mongodb:27017/?...");
}
db.getSiblingDB("admin").createUser({
  user: decodeURIComponent(credentials[1]),
  pwd: decodeURIComponent(credentials[2]),
  roles: [{ role: "readWrite", db: process.env.APP_DATABASE }],
});
