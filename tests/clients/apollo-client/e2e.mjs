// A front-end's session with Apollo Client against a live graphql-app server:
// register, bad credentials, login, paginated todos, create/update/delete, a transparent
// refresh when the access token expires, two tabs refreshing at once, a step-up
// (reauthenticate) on REAUTHENTICATION_REQUIRED, logout. Exits non-zero on the first failure.
// Usage: node e2e.mjs <base-url> <username> <admin-username>
// (the server runs with a short ACCESS_TOKEN_TTL and REAUTH_MAX_AGE; the admin exists)
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { ApolloClient, HttpLink, InMemoryCache, Observable, from, gql } from "@apollo/client/core/index.js";
import { setContext } from "@apollo/client/link/context/index.js";
import { onError } from "@apollo/client/link/error/index.js";

const [base, username, adminName] = process.argv.slice(2);
const uri = `${base}/graphql`;
const password = "correct horse battery";
const tokens = { access: null, refresh: null };
let refreshes = 0;
let reauthentications = 0;

const AUTH = "accessToken refreshToken expiresIn user { id username }";

// Token mutations over plain fetch, outside the link chain, so they cannot recurse.
async function post(query, variables, headers = {}) {
  const response = await fetch(uri, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...headers },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  if (body.errors) throw new Error(`${body.errors[0].extensions.code} ${body.errors[0].extensions.reason}`);
  return body.data;
}

const refreshPair = async (refreshToken) =>
  (await post(`mutation($t: String!) { refresh(refreshToken: $t) { ${AUTH} } }`, { t: refreshToken })).refresh;

async function refreshTokens() {
  refreshes += 1;
  const pair = await refreshPair(tokens.refresh);
  Object.assign(tokens, { access: pair.accessToken, refresh: pair.refreshToken });
}

// Step-up: a real front end would ask the user for the password here.
async function reauthenticate() {
  reauthentications += 1;
  const pair = (
    await post(`mutation($p: String!) { reauthenticate(password: $p) { ${AUTH} } }`, { p: password }, {
      Authorization: `Bearer ${tokens.access}`,
    })
  ).reauthenticate;
  Object.assign(tokens, { access: pair.accessToken, refresh: pair.refreshToken });
}

const authLink = setContext((_, { headers }) => ({
  headers: { ...headers, ...(tokens.access ? { Authorization: `Bearer ${tokens.access}` } : {}) },
}));

// On TOKEN_EXPIRED: refresh once, then retry the operation. Any other reason is final.
const refreshLink = onError(({ graphQLErrors, operation, forward }) => {
  const expired = graphQLErrors?.some(
    (e) => e.extensions?.code === "UNAUTHENTICATED" && e.extensions?.reason === "TOKEN_EXPIRED",
  );
  if (!expired || operation.getContext().retried || !tokens.refresh) return undefined;
  return new Observable((observer) => {
    refreshTokens()
      .then(() => {
        operation.setContext({ retried: true });
        forward(operation).subscribe(observer);
      })
      .catch((error) => observer.error(error));
  });
});

// On REAUTHENTICATION_REQUIRED: prove the password once, then retry the operation.
const stepUpLink = onError(({ graphQLErrors, operation, forward }) => {
  const needed = graphQLErrors?.some((e) => e.extensions?.reason === "REAUTHENTICATION_REQUIRED");
  if (!needed || operation.getContext().reauthenticated) return undefined;
  return new Observable((observer) => {
    reauthenticate()
      .then(() => {
        operation.setContext({ reauthenticated: true });
        forward(operation).subscribe(observer);
      })
      .catch((error) => observer.error(error));
  });
});

const client = new ApolloClient({
  link: from([refreshLink, stepUpLink, authLink, new HttpLink({ uri, fetch })]),
  cache: new InMemoryCache(),
  defaultOptions: {
    query: { fetchPolicy: "no-cache" },
    mutate: { fetchPolicy: "no-cache" },
  },
});

const query = (q, variables) => client.query({ query: gql(q), variables });
const mutate = (m, variables) => client.mutate({ mutation: gql(m), variables });

async function refusal(promise) {
  try {
    await promise;
  } catch (error) {
    assert.ok(error.graphQLErrors?.length, `expected a GraphQL error, got ${error}`);
    return error.graphQLErrors[0].extensions;
  }
  assert.fail("expected the operation to be refused");
}

function step(text) {
  console.log(`ok - ${text}`);
}

// Register, then a wrong password: refused as BAD_CREDENTIALS, no refresh attempted.
const registered = await mutate(
  `mutation($u: String!, $p: String!) { register(input: {username: $u, password: $p}) { ${AUTH} } }`,
  { u: username, p: password },
);
assert.equal(registered.data.register.user.username, username);
step("register");

const LOGIN = `mutation($u: String!, $p: String!) { login(username: $u, password: $p) { ${AUTH} } }`;
const bad = await refusal(mutate(LOGIN, { u: username, p: "not the password" }));
assert.deepEqual([bad.code, bad.reason], ["UNAUTHENTICATED", "BAD_CREDENTIALS"]);
assert.equal(refreshes, 0);
step("wrong password refused with BAD_CREDENTIALS");

const login = (await mutate(LOGIN, { u: username, p: password })).data.login;
Object.assign(tokens, { access: login.accessToken, refresh: login.refreshToken });
const me = (await query("query { me { id username } }")).data.me;
assert.equal(me.username, username);
step("login, then me through the auth link");

// 25 todos, then pages of 10 newest first.
for (let i = 0; i < 25; i += 1) {
  await mutate("mutation($t: String!) { createTodo(input: {title: $t}) { id } }", { t: `todo ${i}` });
}
const PAGE = `query($after: String, $done: Boolean) {
  todos(first: 10, after: $after, done: $done) {
    totalCount edges { cursor node { id title done owner { username } } } pageInfo { hasNextPage endCursor }
  }
}`;
const titles = [];
let after = null;
let pages = 0;
for (;;) {
  const page = (await query(PAGE, { after })).data.todos;
  assert.equal(page.totalCount, 25);
  titles.push(...page.edges.map((e) => e.node.title));
  assert.ok(page.edges.every((e) => e.node.owner.username === username));
  pages += 1;
  if (!page.pageInfo.hasNextPage) break;
  after = page.pageInfo.endCursor;
}
assert.equal(pages, 3);
assert.deepEqual(titles, Array.from({ length: 25 }, (_, i) => `todo ${24 - i}`));
step("25 todos created, read back in 3 pages, newest first");

const first = (await query(PAGE, { after: null })).data.todos.edges[0].node;
const updated = await mutate(
  "mutation($id: ID!) { updateTodo(id: $id, input: {done: true, title: \"done one\"}) { id title done } }",
  { id: first.id },
);
assert.deepEqual(updated.data.updateTodo, { __typename: "Todo", id: first.id, title: "done one", done: true });
const done = (await query(PAGE, { after: null, done: true })).data.todos;
assert.equal(done.totalCount, 1);
assert.equal(done.edges[0].node.id, first.id);
step("update and the done filter");

assert.equal((await mutate("mutation($id: ID!) { deleteTodo(id: $id) }", { id: first.id })).data.deleteTodo, true);
const gone = await refusal(query("query($id: ID!) { todo(id: $id) { id } }", { id: first.id }));
assert.equal(gone.code, "NOT_FOUND");
step("delete, then NOT_FOUND");

// Let the access token expire: the error link refreshes once and retries, unseen by the caller.
const expiredToken = tokens.access;
const ttl = login.expiresIn;
await sleep((ttl + 1.5) * 1000);
const before = refreshes;
const again = (await query("query { me { username } }")).data.me;
assert.equal(again.username, username);
assert.equal(refreshes - before, 1, "exactly one refresh");
assert.notEqual(tokens.access, expiredToken);
step(`access token expired after ${ttl} s: refreshed once and retried transparently`);

// Two tabs of one front end share the refresh token and refresh at the same moment: both
// succeed with the same new refresh token, and the user stays logged in.
const [tabA, tabB] = await Promise.all([refreshPair(tokens.refresh), refreshPair(tokens.refresh)]);
assert.equal(tabA.refreshToken, tabB.refreshToken);
Object.assign(tokens, { access: tabB.accessToken, refresh: tabB.refreshToken });
assert.equal((await query("query { me { username } }")).data.me.username, username);
await refreshTokens();
step("two tabs refreshed at once: both succeeded, still logged in");

// Logout ends the session: the access token is revoked, and the link does not try to refresh.
const loggedOut = await mutate("mutation($t: String) { logout(refreshToken: $t) }", { t: tokens.refresh });
assert.equal(loggedOut.data.logout, true);
const afterLogout = refreshes;
const revoked = await refusal(query("query { me { username } }"));
assert.deepEqual([revoked.code, revoked.reason], ["UNAUTHENTICATED", "TOKEN_REVOKED"]);
assert.equal(refreshes, afterLogout, "no refresh attempt on TOKEN_REVOKED");
step("logout: TOKEN_REVOKED on the next request, no refresh loop");

// Step-up: an admin whose password proof is older than REAUTH_MAX_AGE changes roles; the
// link reauthenticates once and retries, unseen by the caller.
const admin = (await mutate(LOGIN, { u: adminName, p: password })).data.login;
Object.assign(tokens, { access: admin.accessToken, refresh: admin.refreshToken });
await sleep(2500);
const SET_ROLES = "mutation($id: ID!) { setUserRoles(userId: $id, roles: [USER, ADMIN]) { roles } }";
const roles = (await mutate(SET_ROLES, { id: admin.user.id })).data.setUserRoles.roles;
assert.deepEqual(roles, ["USER", "ADMIN"]);
assert.equal(reauthentications, 1, "exactly one reauthentication");
step("a stale password proof: reauthenticated once and retried transparently");

console.log("apollo e2e passed");
