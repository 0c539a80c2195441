// The health check (mongosh --file): initiates the single-node replica set rs0 the first
// time (change streams need a replica set), and is healthy once this node is the primary.
// Idempotent: every later run only reads the state.
const fs = require("fs");
const password = fs.readFileSync("/run/secrets/mongodb_root_password", "utf8").trim();
db.getSiblingDB("admin").auth(process.env.MONGO_INITDB_ROOT_USERNAME, password);
try {
  rs.status();
} catch (error) {
  if (error.codeName !== "NotYetInitialized") throw error;
  rs.initiate({ _id: "rs0", members: [{ _id: 0, host: "mongodb:27017" }] });
}
quit(db.hello().isWritablePrimary ? 0 : 1);
