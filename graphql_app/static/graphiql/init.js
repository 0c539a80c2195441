// Starts GraphiQL against this service. A file, not an inline script, so that the page runs
// under `script-src 'self'`.
(function () {
  var example = [
    "# Welcome to graphql-app.",
    "#",
    "# 1. Run Register (first time) or Login: press the run button and pick the operation.",
    "# 2. Copy accessToken from the result into the Headers tab below:",
    '#      {"Authorization": "Bearer <accessToken>"}',
    "# 3. Run Me, CreateTodo or Todos. When the token expires (15 min), run Refresh with",
    "#    the refreshToken and use the new accessToken.",
    "",
    "mutation Register {",
    '  register(input: {username: "demo", password: "correct horse battery"}) {',
    "    accessToken refreshToken expiresIn user { id username }",
    "  }",
    "}",
    "",
    "mutation Login {",
    '  login(username: "demo", password: "correct horse battery") {',
    "    accessToken refreshToken expiresIn",
    "  }",
    "}",
    "",
    "query Me {",
    "  me { id username roles createdAt }",
    "}",
    "",
    "mutation CreateTodo {",
    '  createTodo(input: {title: "Try GraphiQL"}) { id title done }',
    "}",
    "",
    "query Todos {",
    "  todos(first: 10) {",
    "    totalCount",
    "    edges { node { id title done createdAt } }",
    "    pageInfo { hasNextPage endCursor }",
    "  }",
    "}",
    "",
    "mutation Refresh {",
    '  refresh(refreshToken: "<refreshToken>") { accessToken refreshToken }',
    "}",
    "",
  ].join("\n");

  var fetcher = GraphiQL.createFetcher({ url: window.location.origin + "/graphql" });
  var root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: example,
      defaultHeaders: '{\n  "Authorization": "Bearer <accessToken>"\n}',
      defaultEditorToolsVisibility: "headers",
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: false,
    })
  );
})();
