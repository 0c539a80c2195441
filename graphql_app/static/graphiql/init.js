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
    "# 4. The TodoChanged tab subscribes to your todo changes over a WebSocket.",
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

  var subscription = [
    "# Your todo changes, live over a WebSocket.",
    "#",
    "# 1. Put the accessToken in this tab's Headers too:",
    "#    GraphiQL sends them in connection_init.",
    "# 2. Run TodoChanged: it runs until you stop it.",
    "# 3. Run CreateTodo in the first tab: the event",
    "#    shows up here.",
    "# The stream ends when the token expires or its",
    "# session is logged out.",
    "",
    "subscription TodoChanged {",
    "  todoChanged {",
    "    kind",
    "    todo { id title done updatedAt }",
    "  }",
    "}",
    "",
  ].join("\n");
  var account = [
    "# Where you are logged in, and what happened to your account.",
    "# (The accessToken in Headers, as in the first tab.)",
    "",
    "query Sessions {",
    "  sessions { id current createdAt lastUsedAt userAgent address }",
    "}",
    "",
    "query SecurityEvents {",
    "  securityEvents(first: 20) {",
    "    edges { node { kind at address userAgent sessionId } }",
    "    pageInfo { hasNextPage endCursor }",
    "  }",
    "}",
    "",
    "# Ends one of your other devices (an id from Sessions).",
    "mutation RevokeSession {",
    '  revokeSession(id: "<session id>")',
    "}",
    "",
    "# Some operations (setUserRoles) need a recent password proof:",
    "# on REAUTHENTICATION_REQUIRED, run this and use the new accessToken.",
    "mutation Reauthenticate {",
    '  reauthenticate(password: "correct horse battery") { accessToken refreshToken }',
    "}",
    "",
  ].join("\n");
  var headers = '{\n  "Authorization": "Bearer <accessToken>"\n}';

  // The page's own origin: ws: next to http:, wss: next to https:.
  var socket = new URL("/graphql", window.location.href);
  socket.protocol = socket.protocol === "https:" ? "wss:" : "ws:";
  var fetcher = GraphiQL.createFetcher({
    url: window.location.origin + "/graphql",
    subscriptionUrl: socket.href,
  });
  var root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultTabs: [
        { query: example, headers: headers },
        { query: subscription, headers: headers },
        { query: account, headers: headers },
      ],
      defaultQuery: example, // for a new tab
      defaultHeaders: headers,
      defaultEditorToolsVisibility: "headers",
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: false,
    })
  );
})();
