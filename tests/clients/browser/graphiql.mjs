// Drives Debian's Chromium through the GraphiQL page the service serves:
// run `login`, put the token in the Headers pane, run `me`, read the answer; then run the
// TodoChanged subscription tab and see a todo created over HTTP arrive through the WebSocket.
// Usage: node graphiql.mjs <base-url> <username> <password> <screenshot.png>
// Exits non-zero on any failure, console error or Content-Security-Policy violation.
import assert from "node:assert/strict";
import { chromium } from "playwright-core";

const [base, username, password, screenshot] = process.argv.slice(2);
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";

const browser = await chromium.launch({
  executablePath,
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
const problems = [];

async function createTodo(token, title) {
  const response = await fetch(`${base}/graphql`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: "mutation($t: String!) { createTodo(input: {title: $t}) { id } }", variables: { t: title } }),
  });
  const body = await response.json();
  assert.equal(body.errors, undefined, JSON.stringify(body.errors));
}
const offsite = [];
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  page.on("console", (msg) => { if (msg.type() === "error") problems.push(`console: ${msg.text()}`); });
  page.on("response", (r) => { if (process.env.DEBUG_BROWSER) console.log(r.status(), r.request().method(), r.url()); if (r.status() >= 400) problems.push(`HTTP ${r.status()} ${r.url()}`); });
  page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
  page.on("request", (req) => { if (!req.url().startsWith(base) && !req.url().startsWith("data:")) offsite.push(req.url()); });
  await page.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (e) => {
      console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`);
    });
  });

  const response = await page.goto(`${base}/graphql`, { waitUntil: "networkidle" });
  assert.equal(response.status(), 200);
  assert.match(response.headers()["content-security-policy"], /script-src 'self'/);
  await page.waitForSelector(".graphiql-query-editor .CodeMirror", { timeout: 20000 });

  const editor = (selector) => ({
    get: () => page.evaluate((s) => document.querySelector(s).CodeMirror.getValue(), selector),
    set: (text) => page.evaluate(([s, t]) => document.querySelector(s).CodeMirror.setValue(t), [selector, text]),
  });
  const query = editor(".graphiql-query-editor .CodeMirror");
  const headers = editor(".graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror");
  const result = editor(".graphiql-response .CodeMirror");

  // The ready-made example is there: a login mutation and an authenticated query.
  const example = await query.get();
  assert.match(example, /mutation Login/);
  assert.match(example, /query Me/);

  async function run(text) {
    await query.set(text);
    await result.set("");
    // GraphiQL re-reads the operations of the editor after a short debounce; clicking
    // before that would offer the previous document's operations in a menu.
    await page.waitForTimeout(600);
    await page.click("button.graphiql-execute-button");
    await page.waitForFunction(
      () => document.querySelector(".graphiql-response .CodeMirror").CodeMirror.getValue().trim().startsWith("{"),
      null,
      { timeout: 20000 },
    );
    return JSON.parse(await result.get());
  }

  const login = await run(
    `mutation { login(username: ${JSON.stringify(username)}, password: ${JSON.stringify(password)}) { accessToken user { username } } }`,
  );
  assert.equal(login.errors, undefined, JSON.stringify(login.errors));
  const token = login.data.login.accessToken;
  console.log("login ran in GraphiQL");

  // Without the header, `me` is refused...
  await headers.set("{}");
  const anonymous = await run("query { me { username } }");
  assert.equal(anonymous.errors[0].extensions.code, "UNAUTHENTICATED");

  // ...with the token in the Headers pane, it answers.
  await headers.set(JSON.stringify({ Authorization: `Bearer ${token}` }, null, 2));
  const me = await run("query { me { username roles } }");
  assert.equal(me.errors, undefined, JSON.stringify(me.errors));
  assert.equal(me.data.me.username, username);
  console.log(`me answered ${JSON.stringify(me.data.me)}`);

  // The TodoChanged tab subscribes over a WebSocket to the page's own host.
  const sockets = [];
  page.on("websocket", (ws) => sockets.push(ws.url()));
  await page.click("button.graphiql-tab-button:has-text('TodoChanged')");
  assert.match(await query.get(), /subscription TodoChanged/);
  await headers.set(JSON.stringify({ Authorization: `Bearer ${token}` }, null, 2));
  await result.set("");
  await page.waitForTimeout(600); // GraphiQL's debounce, as in run()
  await page.click("button.graphiql-execute-button");
  // The server starts watching shortly after the subscribe message, with no signal: create
  // todos until one's event shows in the response pane.
  let event = null;
  for (let attempt = 0; attempt < 20 && event === null; attempt += 1) {
    await createTodo(token, `live ${attempt}`);
    try {
      await page.waitForFunction(
        () => document.querySelector(".graphiql-response .CodeMirror").CodeMirror.getValue().includes("CREATED"),
        null,
        { timeout: 1000 },
      );
      event = JSON.parse(await result.get()).data.todoChanged;
    } catch (error) {
      if (error.name !== "TimeoutError") throw error;
    }
  }
  assert.ok(event, `no event in GraphiQL: ${await result.get()}`);
  assert.equal(event.kind, "CREATED");
  assert.match(event.todo.title, /^live /);
  assert.deepEqual(sockets, [`${base.replace(/^http/, "ws")}/graphql`]);
  console.log(`subscription in GraphiQL received ${JSON.stringify(event)} over ${sockets[0]}`);
  await page.screenshot({ path: screenshot });
  console.log(`screenshot: ${screenshot}`);

  // The Content-Security-Policy refuses a WebSocket to any other host.
  const elsewhere = `ws://localhost:${new URL(base).port}/graphql`;
  const violation = await page.evaluate(
    (url) =>
      new Promise((resolve) => {
        document.addEventListener("securitypolicyviolation", (e) => resolve(e.effectiveDirective), { once: true });
        try {
          new WebSocket(url);
        } catch {
          // Some browsers also throw; the violation event comes either way.
        }
      }),
    elsewhere,
  );
  assert.equal(violation, "connect-src");
  // Chromium also logs that refusal as console errors: expected, not problems.
  const expected = problems.filter((p) => p.includes(new URL(elsewhere).host));
  problems.splice(0, problems.length, ...problems.filter((p) => !expected.includes(p)));
  console.log(`the CSP refused a WebSocket to ${elsewhere}`);
} catch (error) {
  const pages = browser.contexts().flatMap((c) => c.pages());
  if (pages.length) await pages[0].screenshot({ path: screenshot });
  console.error(`failed; screenshot of the page: ${screenshot}`);
  console.error(problems.join("\n"));
  throw error;
} finally {
  await browser.close();
}
assert.deepEqual(offsite, [], "requests to other hosts");
assert.deepEqual(problems, [], "errors in the page");
console.log("GraphiQL check passed");
