// graphql-http's GraphQL-over-HTTP audit suite (serverAudits) against a live graphql-app
// server. Prints each audit's id, status and name (with the reason when it is not ok) and a
// summary of the counts; exits non-zero unless every MUST and SHOULD audit is "ok" (a MAY
// audit that fails is a "notice", printed but allowed).
// Usage: node audit.mjs <graphql-url>
import { serverAudits } from "graphql-http";

const [url] = process.argv.slice(2);
const counts = { ok: 0, warn: 0, error: 0, notice: 0 };
const required = [];
for (const { fn } of serverAudits({ url })) {
  const result = await fn(); // one at a time: the server's log reads in order
  counts[result.status] += 1;
  const reason = result.status === "ok" ? "" : ` -- ${result.reason}`;
  console.log(`${result.id} ${result.status} ${result.name}${reason}`);
  if (result.status !== "ok" && /^(MUST|SHOULD)\b/.test(result.name)) required.push(result.id);
}
console.log(`counts ok=${counts.ok} warn=${counts.warn} error=${counts.error} notice=${counts.notice}`);
if (required.length > 0) {
  console.log(`MUST/SHOULD audits not ok: ${required.join(" ")}`);
  process.exit(1);
}
console.log("graphql-http audit passed");
