#!/usr/bin/env bash
# Refresh the GraphiQL files the app serves itself (graphql_app/static/graphiql/), from the
# npm registry, at pinned versions. The files are committed, so installing and running the
# service needs no network and the browser never loads anything from a third-party host.
set -euo pipefail
GRAPHIQL=3.8.3
REACT=18.3.1
cd "$(dirname "$0")/.."
dest=graphql_app/static/graphiql
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "graphiql@$GRAPHIQL" "react@$REACT" "react-dom@$REACT" >/dev/null)
for pkg in "graphiql-$GRAPHIQL" "react-$REACT" "react-dom-$REACT"; do
  mkdir -p "$work/$pkg" && tar xzf "$work/$pkg.tgz" -C "$work/$pkg"
done
cp "$work/graphiql-$GRAPHIQL/package/graphiql.min.js" "$work/graphiql-$GRAPHIQL/package/graphiql.min.css" "$dest/"
cp "$work/react-$REACT/package/umd/react.production.min.js" "$dest/"
cp "$work/react-dom-$REACT/package/umd/react-dom.production.min.js" "$dest/"
(cd "$dest" && sha256sum graphiql.min.js graphiql.min.css react.production.min.js react-dom.production.min.js)
