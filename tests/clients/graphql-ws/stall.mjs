// The reference `graphql-ws` client against a server whose database is frozen: connection_init
// cannot be checked, the server closes with 1013 (Try Again Later), the client retries on its
// own, and is acknowledged once the database answers again. Prints "closed <code>" for every
// close and "acknowledged" at the end, so the test can thaw the database in between.
// Usage: node stall.mjs <base-url> <access-token>
import WebSocket from "ws";
import { createClient } from "graphql-ws";

const [base, token] = process.argv.slice(2);
const client = createClient({
  url: `${base.replace(/^http/, "ws")}/graphql`,
  webSocketImpl: WebSocket,
  connectionParams: { Authorization: `Bearer ${token}` },
  lazy: false,
  retryAttempts: 60,
  retryWait: () => new Promise((resolve) => setTimeout(resolve, 300)),
  on: {
    closed: (event) => console.log(`closed ${event.code}`),
    connected: () => {
      console.log("acknowledged");
      client.dispose();
    },
  },
  onNonLazyError: (error) => {
    console.log(`gave up: ${error?.code ?? error}`);
    process.exitCode = 1;
  },
});
