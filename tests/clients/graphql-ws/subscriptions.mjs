// Subscriptions through the reference `graphql-ws` client and through Apollo Client's
// GraphQLWsLink against a live graphql-app server: the subscriber's own todo events arrive,
// another user's never do, `logout` and `logoutAll` end the stream, a bad token in
// connection_init closes the socket with 4401. Exits non-zero on the first failure.
// Usage: node subscriptions.mjs <base-url>
import assert from "node:assert/strict";
import WebSocket from "ws";
import { createClient } from "graphql-ws";
import { ApolloClient, HttpLink, InMemoryCache, gql, split } from "@apollo/client/core/index.js";
import { GraphQLWsLink } from "@apollo/client/link/subscriptions/index.js";
import { getMainDefinition } from "@apollo/client/utilities/index.js";

const [base] = process.argv.slice(2);
const httpUrl = `${base}/graphql`;
const wsUrl = httpUrl.replace(/^http/, "ws");
const password = "correct horse battery";
const SUBSCRIBE = "subscription TodoChanged { todoChanged { kind todo { id title done } } }";
const WARM_UP = "warm-up";
const run = Date.now().toString(36); // usernames unique per run, so the script can run again
let users = 0;

async function graphql(query, variables, token) {
  const response = await fetch(httpUrl, {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      ...(token ? { Authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  assert.equal(body.errors, undefined, JSON.stringify(body.errors));
  return body.data;
}

async function register(name) {
  users += 1;
  const data = await graphql(
    "mutation($u: String!, $p: String!) { register(input: {username: $u, password: $p}) { accessToken refreshToken } }",
    { u: `${name}_${run}_${users}`, p: password },
  );
  return data.register;
}

async function createTodo(token, title) {
  const data = await graphql("mutation($t: String!) { createTodo(input: {title: $t}) { id } }", { t: title }, token);
  return data.createTodo;
}

// What a subscription delivered, in order: {type: "next", value} | {type: "error", error} |
// {type: "complete"}; `take` waits up to `ms` for the next one (null if none came).
function queue() {
  const items = [];
  let wake = null;
  return {
    push(item) {
      items.push(item);
      if (wake) wake();
    },
    take(ms) {
      if (items.length) return Promise.resolve(items.shift());
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          wake = null;
          resolve(null);
        }, ms);
        wake = () => {
          clearTimeout(timer);
          wake = null;
          resolve(items.shift());
        };
      });
    },
  };
}

// The two ways a front-end subscribes: the graphql-ws client itself, and Apollo Client with
// a GraphQLWsLink around one, split from the HTTP link as README "Clients" shows. Both put
// the token in the connection_init payload.
const CLIENTS = {
  "graphql-ws": (ws, sink) => ws.subscribe({ query: SUBSCRIBE }, sink),
  apollo: (ws, sink) => {
    const link = split(
      ({ query }) => getMainDefinition(query).operation === "subscription",
      new GraphQLWsLink(ws),
      new HttpLink({ uri: httpUrl, fetch }),
    );
    const apollo = new ApolloClient({ link, cache: new InMemoryCache() });
    const subscription = apollo
      .subscribe({ query: gql(SUBSCRIBE), fetchPolicy: "no-cache" })
      .subscribe(sink);
    return () => subscription.unsubscribe();
  },
};

function subscribe(kind, token) {
  const events = queue();
  const closes = [];
  const ws = createClient({
    url: wsUrl,
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    connectionParams: () => ({ Authorization: `Bearer ${token}` }),
    on: { closed: (event) => closes.push({ code: event.code, reason: event.reason }) },
  });
  const unsubscribe = CLIENTS[kind](ws, {
    next: (value) => events.push({ type: "next", value }),
    error: (error) => events.push({ type: "error", error }),
    complete: () => events.push({ type: "complete" }),
  });
  return {
    events,
    closes,
    async dispose() {
      unsubscribe();
      await ws.dispose();
    },
  };
}

function describe(item) {
  if (item === null) return "nothing";
  if (item.type === "error") {
    const error = item.error;
    return `error ${error?.code ?? ""} ${error?.reason ?? error?.message ?? JSON.stringify(error)}`;
  }
  return `${item.type} ${JSON.stringify(item.value ?? "")}`;
}

function todoEvent(item) {
  assert.equal(item?.type, "next", `expected an event, got ${describe(item)}`);
  assert.equal(item.value.errors, undefined, JSON.stringify(item.value.errors));
  return item.value.data.todoChanged;
}

// The server starts watching some time after the subscribe message and sends no signal when
// it has: create warm-up todos until one's event arrives. Later warm-up events are skipped.
async function ready(stream, token) {
  for (let attempt = 0; attempt < 20; attempt += 1) {
    await createTodo(token, WARM_UP);
    const item = await stream.events.take(1000);
    if (item !== null) {
      assert.equal(todoEvent(item).todo.title, WARM_UP);
      return;
    }
  }
  assert.fail("no event arrived for 20 warm-up todos");
}

// The next item that is not a warm-up event, or null after `ms`.
async function next(stream, ms) {
  for (;;) {
    const item = await stream.events.take(ms);
    if (item?.type !== "next" || item.value.data?.todoChanged?.todo.title !== WARM_UP) return item;
  }
}

function step(text) {
  console.log(`ok - ${text}`);
}

async function ownEventsOnly(kind) {
  const alice = await register("alice");
  const bob = await register("bob");
  const aliceStream = subscribe(kind, alice.accessToken);
  const bobStream = subscribe(kind, bob.accessToken);
  try {
    await ready(aliceStream, alice.accessToken);
    await ready(bobStream, bob.accessToken);
    const bobs = await createTodo(bob.accessToken, "bob's todo");
    const todo = await createTodo(alice.accessToken, "alice's todo");
    await graphql(
      "mutation($id: ID!) { updateTodo(id: $id, input: {done: true}) { id } }",
      { id: todo.id },
      alice.accessToken,
    );
    await graphql("mutation($id: ID!) { deleteTodo(id: $id) }", { id: todo.id }, alice.accessToken);

    const events = [];
    for (let i = 0; i < 3; i += 1) events.push(todoEvent(await next(aliceStream, 5000)));
    assert.deepEqual(events.map((e) => e.kind), ["CREATED", "UPDATED", "DELETED"]);
    assert.deepEqual(events.map((e) => e.todo.id), [todo.id, todo.id, todo.id]);
    assert.equal(events[1].todo.done, true);
    step(`${kind}: alice received CREATED, UPDATED, DELETED of her todo`);

    // Bob's event was published (he receives it) and never reaches alice.
    const bobsEvent = todoEvent(await next(bobStream, 5000));
    assert.equal(bobsEvent.todo.id, bobs.id);
    const extra = await next(aliceStream, 1500);
    assert.equal(extra, null, `alice received ${describe(extra)}`);
    const leaked = await next(bobStream, 500);
    assert.equal(leaked, null, `bob received ${describe(leaked)}`);
    step(`${kind}: bob's event reached bob only, alice's never reached bob`);
  } finally {
    await aliceStream.dispose();
    await bobStream.dispose();
  }
}

// How a stream ended: the extensions of the error the server named, once it completed or
// errored.
async function ending(stream, ms) {
  let extensions = null;
  for (;;) {
    const item = await next(stream, ms);
    assert.notEqual(item, null, `the stream did not end within ${ms} ms`);
    if (item.type === "next") {
      assert.ok(item.value.errors?.length, `expected the ending error, got ${describe(item)}`);
      extensions = item.value.errors[0].extensions;
    } else if (item.type === "error") {
      // Apollo Client turns a result with errors into an ApolloError that ends the stream.
      assert.ok(item.error.graphQLErrors?.length, `expected a GraphQL error, got ${describe(item)}`);
      return item.error.graphQLErrors[0].extensions;
    } else {
      return extensions;
    }
  }
}

async function logoutEndsTheStream(kind, mutation) {
  const session = await register("carol");
  const stream = subscribe(kind, session.accessToken);
  try {
    await ready(stream, session.accessToken);
    const started = Date.now();
    if (mutation === "logout") {
      const data = await graphql("mutation($t: String) { logout(refreshToken: $t) }", {
        t: session.refreshToken,
      });
      assert.equal(data.logout, true);
    } else {
      const data = await graphql("mutation { logoutAll }", {}, session.accessToken);
      assert.equal(data.logoutAll, true);
    }
    const { code, reason } = (await ending(stream, 6000)) ?? {};
    assert.deepEqual([code, reason], ["UNAUTHENTICATED", "TOKEN_REVOKED"]);
    step(`${kind}: ${mutation} ended the stream (TOKEN_REVOKED) after ${Date.now() - started} ms`);
  } finally {
    await stream.dispose();
  }
}

async function badTokenCloses4401(kind) {
  const stream = subscribe(kind, "garbage");
  try {
    const item = await stream.events.take(5000);
    assert.equal(item?.type, "error", `expected the socket to close, got ${describe(item)}`);
    assert.match(describe(item), /4401/);
    assert.deepEqual(stream.closes, [{ code: 4401, reason: "Unauthorized" }]);
    step(`${kind}: a bad token closed the socket with 4401`);
  } finally {
    await stream.dispose();
  }
}

for (const kind of Object.keys(CLIENTS)) {
  await ownEventsOnly(kind);
  await logoutEndsTheStream(kind, "logout");
  await logoutEndsTheStream(kind, "logoutAll");
  await badTokenCloses4401(kind);
}
console.log("graphql-ws e2e passed");
