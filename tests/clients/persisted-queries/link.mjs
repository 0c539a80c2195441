// Apollo Client's persisted-queries link against a live server (run from
// tests/test_persisted_queries.py). Every HTTP exchange is logged as one JSON line:
// {method, hash, query, status, codes}, so the test sees the protocol on the wire.
//   node link.mjs apq BASE_URL USERNAME         APQ: a miss, the retry with the text, a hit by hash over GET
//   node link.mjs trusted BASE_URL MANIFEST USERNAME   manifest ids; anything else refused
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { ApolloClient, HttpLink, InMemoryCache, gql } from "@apollo/client/core/index.js";
import { createPersistedQueryLink } from "@apollo/client/link/persisted-queries/index.js";
import { generatePersistedQueryIdsFromManifest } from "@apollo/persisted-query-lists";

const [mode, base, ...rest] = process.argv.slice(2);
const sha256 = (text) => createHash("sha256").update(text).digest("hex");

async function loggingFetch(url, options) {
  const target = new URL(url);
  const sent = options.method === "GET" ? Object.fromEntries(target.searchParams) : JSON.parse(options.body);
  const extensions = typeof sent.extensions === "string" ? JSON.parse(sent.extensions) : sent.extensions;
  const response = await fetch(url, options);
  const body = await response.clone().json();
  console.log(JSON.stringify({
    method: options.method,
    hash: extensions?.persistedQuery?.sha256Hash ?? null,
    query: Boolean(sent.query),
    status: response.status,
    codes: (body.errors ?? []).map((e) => e.extensions?.code),
  }));
  return response;
}

function client(link) {
  return new ApolloClient({ link, cache: new InMemoryCache() });
}

const http = new HttpLink({ uri: `${base}/graphql`, fetch: loggingFetch });
const REGISTER = gql`
  mutation Register($username: String!, $password: String!) {
    register(input: { username: $username, password: $password }) { accessToken }
  }
`;
const password = "correct horse battery";

if (mode === "apq") {
  const [username] = rest;
  const link = () => createPersistedQueryLink({ sha256, useGETForHashedQueries: true }).concat(http);
  const first = client(link());
  const registered = await first.mutate({ mutation: REGISTER, variables: { username, password } });
  const token = registered.data.register.accessToken;
  const ME = gql`query Me { me { username } }`;
  const context = { headers: { authorization: `Bearer ${token}` } };
  const me = await first.query({ query: ME, context, fetchPolicy: "no-cache" });
  console.log(`me: ${me.data.me.username}`);
  // Another front-end (its own link, nothing cached): the service knows the hash now.
  const second = client(link());
  const again = await second.query({ query: ME, context, fetchPolicy: "no-cache" });
  console.log(`me again: ${again.data.me.username}`);
} else if (mode === "trusted") {
  const [manifestPath, username] = rest;
  const manifest = JSON.parse(readFileSync(manifestPath, "utf8"));
  const trusted = client(
    createPersistedQueryLink(
      generatePersistedQueryIdsFromManifest({ loadManifest: () => Promise.resolve(manifest) }),
    ).concat(http),
  );
  const operations = readFileSync(new URL("../../../schema/operations/auth.graphql", import.meta.url), "utf8");
  const document = gql(operations);
  const only = (name) => ({
    ...document,
    definitions: document.definitions.filter(
      (d) => d.kind === "FragmentDefinition" || d.name.value === name,
    ),
  });
  const registered = await trusted.mutate({
    mutation: only("Register"),
    variables: { username, password },
  });
  const token = registered.data.register.accessToken;
  const context = { headers: { authorization: `Bearer ${token}` } };
  const me = await trusted.query({ query: only("Me"), context, fetchPolicy: "no-cache" });
  console.log(`me: ${me.data.me.username}`);
  // Not in the manifest: by hash (the plain APQ link), then as text (no link at all).
  const AD_HOC = gql`query AdHoc { me { id username } }`;
  for (const link of [createPersistedQueryLink({ sha256 }).concat(http), http]) {
    try {
      await client(link).query({ query: AD_HOC, context, fetchPolicy: "no-cache" });
      console.log("ad hoc: ran");
    } catch (error) {
      console.log(`ad hoc refused: ${error.graphQLErrors?.map((e) => e.extensions.code)}`);
    }
  }
}
