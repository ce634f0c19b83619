// Browser end-to-end test of the web UI against a real `confluence-do serve` holding the demo
// space: playwright-core drives the system's Chromium (Debian's /usr/bin/chromium; never a
// downloaded browser). Run by tests/e2e/ui.rs, which starts the server and checks git afterwards.
//
//   node ui_test.mjs BASE_URL SCREENSHOT_DIR
//
// Prints one JSON line at the end: {"ok": true, "steps": [...], "timings": {...}, "created": {...}}.
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";
import { join } from "node:path";

const [base, shots] = process.argv.slice(2);
if (!base || !shots) {
  console.error("usage: node ui_test.mjs BASE_URL SCREENSHOT_DIR");
  process.exit(2);
}
mkdirSync(shots, { recursive: true });

const executablePath = process.env.CHROMIUM ?? "/usr/bin/chromium";
const browser = await chromium.launch({
  executablePath,
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});
const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1 });
const page = await context.newPage();
const errors = [];
page.on("pageerror", (e) => errors.push(String(e)));
page.on("dialog", (d) => d.accept());
// What the Content-Security-Policy blocked (Chromium reports each on the console). The app itself
// must never trip it. The steps that feed it hostile content are where blocking is the point
// (mermaid's renderer, for one, trips it on a diagram label that holds an onerror handler).
const cspBlocked = [];
const hostile = new Set(["page content cannot run script"]);
page.on("console", (m) => {
  if (m.type() === "error" && /Content Security Policy/.test(m.text()) && !hostile.has(current)) {
    cspBlocked.push(`${current}: ${m.text().slice(0, 120)}`);
  }
});

const steps = [];
const timings = {};
const created = {};
let current = "start";

async function step(name, run) {
  current = name;
  const t = Date.now();
  await run();
  steps.push({ name, ms: Date.now() - t });
}

async function api(method, path, body) {
  const r = await fetch(base + "/api/v1" + path, {
    method,
    headers: body ? { "Content-Type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

// Polls `get` (an API read) until it returns something truthy, for up to 15 s.
async function until(get, what) {
  const deadline = Date.now() + 15000;
  for (;;) {
    const got = await get();
    if (got) return got;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function expect(cond, what) {
  if (!cond) throw new Error(what);
}

const row = (title) => page.locator(".tree-row", { has: page.locator(".tree-title", { hasText: new RegExp(`^${title}$`) }) });

try {
  await step("every answer carries the CSP, nosniff and no-referrer", async () => {
    const html = await fetch(base + "/");
    const csp = html.headers.get("content-security-policy") ?? "";
    const directive = (name) => csp.split(";").map((d) => d.trim().split(/\s+/)).find((d) => d[0] === name)?.slice(1) ?? null;
    expect(String(directive("script-src")) === "'self'", `scripts only from the app's origin, none inline: ${csp}`);
    expect(String(directive("object-src")) === "'none'", `object-src 'none': ${csp}`);
    expect(String(directive("frame-ancestors")) === "'none'", `frame-ancestors 'none': ${csp}`);
    expect(String(directive("connect-src")) === "'self'", `connect-src only the app's origin and its WebSocket: ${csp}`);
    const script = (await html.text()).match(/<script[^>]+src="([^"]+)"/)?.[1];
    expect(script, "the page loads its script from a file");
    for (const path of ["/", script, "/api/v1/spaces", "/api/v1/pages/0", "/rest/api/space"]) {
      const r = await fetch(base + path);
      const got = [r.headers.get("content-security-policy"), r.headers.get("x-content-type-options"), r.headers.get("referrer-policy")];
      expect(got[0] === csp && got[1] === "nosniff" && got[2] === "no-referrer", `${path} (${r.status}) carries the headers: ${got}`);
    }
  });

  await step("the demo space opens on its home page with the tree", async () => {
    const t = Date.now();
    await page.goto(base + "/");
    await page.locator(".tree-row").first().waitFor();
    timings.treeVisibleMs = Date.now() - t;
    await page.locator("h1.page-title").waitFor();
    expect((await page.locator(".tree-row").count()) >= 3, "the tree lists the space's top pages");
    await page.screenshot({ path: join(shots, "page.png") });
  });

  await step("a page with a mermaid diagram shows it as SVG", async () => {
    await row("Architecture").locator(".twisty").click();
    await row("Authentication Architecture").click();
    await page.locator("h1.page-title", { hasText: "Authentication Architecture" }).waitFor();
    await page.locator(".markdown-body figure.diagram svg").first().waitFor({ timeout: 20000 });
    expect((await page.locator(".markdown-body pre.mermaid").count()) === 0, "every mermaid block became a diagram");
    expect((await page.locator(".page-side .toc a").count()) > 1, "the table of contents lists the headings");
    await page.screenshot({ path: join(shots, "diagram.png") });
  });

  await step("a link between pages navigates inside the app", async () => {
    await page.locator(".markdown-body a", { hasText: "Deployment Guide" }).first().click();
    await page.locator("h1.page-title", { hasText: "Deployment Guide" }).waitFor();
    expect(page.url().includes("#/page/"), `the app routed to the page (${page.url()})`);
  });

  await step("Ctrl+K finds a page as you type and opens it", async () => {
    await page.locator(".markdown-body").click();
    await page.keyboard.press("Control+k");
    const input = page.locator(".switcher-input");
    await input.waitFor();
    // The time from the last keystroke to the results on screen.
    await input.pressSequentially("rotat", { delay: 30 });
    const t = Date.now();
    await input.press("e");
    await page.locator(".switcher .result .result-title", { hasText: "Authentication" }).first().waitFor();
    timings.switcherResultsMs = Date.now() - t;
    await page.screenshot({ path: join(shots, "search.png") });
    // Keyboard: arrow down to the Authentication Architecture result, Enter opens it.
    const titles = await page.locator(".switcher .result .result-title").allTextContents();
    const at = titles.findIndex((t) => t.startsWith("Authentication Architecture"));
    expect(at >= 0, `the page is among the results (${titles.join(" | ")})`);
    for (let i = 0; i < at; i++) await input.press("ArrowDown");
    await input.press("Enter");
    await page.locator("h1.page-title", { hasText: "Authentication Architecture" }).waitFor();
    expect((await page.locator(".switcher").count()) === 0, "the switcher closed");
  });

  await step("a page shows whether it is still fresh", async () => {
    const badge = page.locator(".page-meta .fresh-badge");
    await badge.waitFor();
    expect((await badge.textContent()).startsWith("Fresh"), `the demo page is fresh (${await badge.textContent()})`);
  });

  await step("a question on the search page is answered with its sources", async () => {
    await page.goto(base + "/#/search?q=" + encodeURIComponent("Where do secrets live?"));
    const answer = page.locator(".answer .answer-text");
    await answer.waitFor({ timeout: 20000 });
    const text = await answer.textContent();
    expect(text.includes("Vault"), `the answer has the fact (${text})`);
    const cite = page.locator(".answer .answer-text a.cite").first();
    expect((await cite.textContent()) === "[1]", "the answer cites its first source");
    expect(
      (await page.locator(".answer-sources li.cited a").first().textContent()) === "Deployment Guide",
      "the cited source is the page the fact is on",
    );
    await page.screenshot({ path: join(shots, "ask.png") });
    await cite.click();
    await page.locator("h1.page-title", { hasText: "Deployment Guide" }).waitFor();
  });

  await step("a child page from a template, with its typed fields", async () => {
    const parent = await api("GET", "/pages/1000000000031");
    await page.goto(`${base}/#/new/ENG?parent=${parent.id}`);
    await page.locator(".template-card", { hasText: "ADR" }).click();
    await page.locator("#field-number").fill("7");
    await page.locator("#field-decision").fill("Blue-green deploys");
    await page.locator("#field-status").selectOption("Accepted");
    await page.screenshot({ path: join(shots, "new-page.png") });
    await page.getByRole("button", { name: "Create page" }).click();
    await page.locator(".editor-host .cm-content").waitFor();
    const title = await page.locator(".title-input").inputValue();
    expect(title === "ADR 7: Blue-green deploys", `the title comes from the template fields (${title})`);
    created.adr = page.url().match(/#\/page\/(\d+)\/edit/)?.[1];
    const made = await api("GET", `/pages/${created.adr}`);
    expect(made.parent === parent.id, "the page is under the chosen parent");
    expect(made.labels.includes("adr"), "the template's labels are on the page");
    expect(made.markdown.includes("**Status:** Accepted"), "the fields filled the body");
  });

  await step("editing autosaves with a visible saved state", async () => {
    const editor = page.locator(".editor-host .cm-content");
    await editor.click();
    await page.keyboard.press("Control+End");
    await page.locator(".presence-count", { hasText: "1 person here" }).waitFor();
    await page.keyboard.type("\n\nWe switch traffic only after the health checks pass.");
    // Live: "Saved" once the server holds the edit; committed when typing pauses.
    await page.locator(".save-state.saved").waitFor({ timeout: 15000 });
    const saved = await until(async () => {
      const p = await api("GET", `/pages/${created.adr}`);
      return p.markdown.includes("only after the health checks pass") && p;
    }, "the live edit to be committed");
    expect(saved.version === 2, `one commit made version 2 (${saved.version})`);
    await page.screenshot({ path: join(shots, "editor.png") });
  });

  await step("an image added in the editor is attached and shown on the page", async () => {
    // A 2x2 PNG, picked through the toolbar's file input (paste and drop take the same path).
    const png = Buffer.from(
      "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAEElEQVR4nGNQTX4NRAwQCgAligXNFnxqAgAAAABJRU5ErkJggg==",
      "base64",
    );
    await page.locator('.toolbar input[type="file"]').setInputFiles({ name: "flow diagram.png", mimeType: "image/png", buffer: png });
    await page.locator(".editor-host .cm-content", { hasText: "![flow diagram.png](" }).waitFor({ timeout: 15000 });
    await page.locator(".save-state.saved").waitFor({ timeout: 15000 });
    const files = await api("GET", `/pages/${created.adr}/attachments`);
    expect(files.attachments.some((a) => a.name === "flow diagram.png" && a.size === png.length), "the file is attached");
    await page.getByRole("button", { name: "Done" }).click();
    await page.locator("h1.page-title", { hasText: "ADR 7" }).waitFor();
    const img = page.locator('.markdown-body img[alt="flow diagram.png"]');
    await img.waitFor();
    const handle = await img.elementHandle();
    await until(() => handle.evaluate((el) => el.complete && el.naturalWidth === 2), "the image loaded");
  });

  await step("two people edit one page live: presence, each other's cursor and text", async () => {
    const other = await context.newPage();
    await page.goto(`${base}/#/page/${created.adr}/edit`);
    await other.goto(`${base}/#/page/${created.adr}/edit`);
    for (const p of [page, other]) await p.locator(".presence-count", { hasText: "2 people here" }).waitFor({ timeout: 15000 });
    await other.locator(".editor-host .cm-content").click();
    await other.keyboard.press("Control+Home");
    await other.keyboard.type("Edited together. ");
    await page.locator(".editor-host .cm-content", { hasText: "Edited together. " }).waitFor({ timeout: 15000 });
    await page.locator(".cm-ySelectionCaret").first().waitFor({ timeout: 15000 });
    await page.screenshot({ path: join(shots, "live.png") });
    await other.close();
    await page.locator(".presence-count", { hasText: "1 person here" }).waitFor({ timeout: 15000 });
    await page.getByRole("button", { name: "Done" }).click();
    await page.locator(".markdown-body", { hasText: "Edited together." }).waitFor({ timeout: 15000 });
  });

  await step("a stale edit shows who changed the page and merges (live editing off)", async () => {
    await page.evaluate(() => localStorage.setItem("cdo.live", "off"));
    await page.goto(`${base}/#/page/${created.adr}/edit`);
    await page.locator(".editor-host .cm-content").waitFor();
    // Someone else saves meanwhile (a new first line).
    const now = await api("GET", `/pages/${created.adr}`);
    await api("PUT", `/pages/${created.adr}`, {
      body: "Reviewed by the platform team.\n\n" + now.markdown,
      baseVersion: now.version,
    });
    await page.locator(".editor-host .cm-content").click();
    await page.keyboard.press("Control+End");
    await page.keyboard.type("\nRollback takes one command.");
    await page.locator(".notice.conflict", { hasText: "Changed by" }).waitFor({ timeout: 15000 });
    await page.screenshot({ path: join(shots, "conflict.png") });
    await page.getByRole("button", { name: "Merge their changes into mine" }).click();
    await page.locator(".save-state.saved").waitFor({ timeout: 15000 });
    const merged = await api("GET", `/pages/${created.adr}`);
    expect(merged.markdown.includes("Reviewed by the platform team."), "their edit is kept");
    expect(merged.markdown.includes("Rollback takes one command."), "my edit is kept");
    await page.getByRole("button", { name: "Done" }).click();
    await page.evaluate(() => localStorage.removeItem("cdo.live"));
  });

  await step("the space syncs with its git remote from the sidebar", async () => {
    const badge = page.locator(".sync-badge");
    await badge.waitFor();
    await badge.click();
    await page.getByRole("button", { name: "Sync now" }).click();
    await page.locator(".sync-badge", { hasText: /^Synced / }).waitFor({ timeout: 15000 });
    const state = await api("GET", "/spaces/ENG/sync");
    expect(state.last && state.last.pushed, `the space was pushed (${JSON.stringify(state)})`);
    await page.keyboard.press("Escape");
    await badge.click();
  });

  await step("dragging a page onto another makes it a child", async () => {
    await page.goto(`${base}/#/page/1000000000031`);
    await page.locator("h1.page-title", { hasText: "Deployment Guide" }).waitFor();
    const source = row("Onboarding");
    const target = row("Operations");
    await source.waitFor();
    await source.dragTo(target, { targetPosition: { x: 60, y: 15 } });
    const onboarding = (await api("GET", "/spaces/ENG/tree")).tree.find((n) => n.title === "Onboarding");
    const deadline = Date.now() + 10000;
    let moved = null;
    while (Date.now() < deadline) {
      const tree = (await api("GET", "/spaces/ENG/tree")).tree;
      const ops = tree.find((n) => n.title === "Operations");
      if (ops?.children.some((c) => c.title === "Onboarding")) {
        moved = ops;
        break;
      }
      await page.waitForTimeout(100);
    }
    expect(moved, `Onboarding moved under Operations (top level still had it: ${!!onboarding})`);
    await row("Onboarding").waitFor();
  });

  await step("history shows versions, a word diff, and restores", async () => {
    await page.goto(`${base}/#/page/${created.adr}/history`);
    await page.locator(".versions tbody tr").first().waitFor();
    const rows = await page.locator(".versions tbody tr").count();
    expect(rows >= 3, `three or more versions (${rows})`);
    await page.locator(".word-diff ins").first().waitFor();
    await page.screenshot({ path: join(shots, "history.png") });
    await page.getByRole("button", { name: "Restore v1" }).click();
    await page.locator("h1.page-title", { hasText: "ADR 7" }).waitFor();
    const restored = await api("GET", `/pages/${created.adr}`);
    expect(!restored.markdown.includes("Rollback takes one command."), "version 1's text is back");
    expect(restored.version === rows + 1, `restoring made a new version (${restored.version})`);
  });

  await step("page content cannot run script", async () => {
    const xss = await api("POST", "/spaces/ENG/pages", {
      title: "XSS probe",
      body: [
        "<script>window.__xss = 1</script>",
        '<img src="x" onerror="window.__xss = 2">',
        "[click](javascript:window.__xss=3)",
        '<a href="javascript:window.__xss=4">a</a> <svg onload="window.__xss=5"></svg>',
        '<iframe src="javascript:window.__xss=6"></iframe>',
        "```mermaid\ngraph TD\n  A-->B\n  click A call alert(1)\n```",
        '```mermaid\ngraph TD\n  A["<img src=x onerror=window.__xss=7>"]-->B\n```',
      ].join("\n\n"),
    });
    created.xss = xss.id;
    await page.goto(`${base}/#/page/${xss.id}`);
    await page.locator("h1.page-title", { hasText: "XSS probe" }).waitFor();
    await page.locator(".markdown-body figure.diagram").first().waitFor({ timeout: 20000 });
    for (const link of await page.locator(".markdown-body a").all()) await link.click({ force: true }).catch(() => {});
    await page.waitForLoadState("networkidle");
    const flag = await page.evaluate(() => window.__xss);
    expect(flag === undefined, `no script ran (window.__xss = ${flag})`);
    expect((await page.locator(".markdown-body script, .markdown-body iframe").count()) === 0, "no script or iframe in the page");
    const handlers = await page.evaluate(() =>
      [...document.querySelectorAll(".markdown-body *")].flatMap((e) =>
        [...e.attributes].filter((a) => /^on/i.test(a.name)).map((a) => `<${e.tagName.toLowerCase()} ${a.name}="${a.value}">`),
      ),
    );
    expect(handlers.length === 0, `no event handler attributes in the page: ${handlers.join(" ")}`);
  });

  await step("a script injected into the page is blocked by the CSP", async () => {
    const before = cspBlocked.length;
    await page.evaluate(() => {
      const inline = document.createElement("script");
      inline.textContent = "window.__injected = 'inline script'";
      document.body.append(inline);
      const handler = document.createElement("img");
      handler.setAttribute("onerror", "window.__injected = 'event handler'");
      handler.src = "/no-such-image.png";
      document.body.append(handler);
      const url = document.createElement("a");
      url.href = "javascript:window.__injected = 'javascript: URL'";
      document.body.append(url);
      url.click();
    });
    await until(async () => cspBlocked.length >= before + 3, "the CSP to report all three blocked scripts");
    const ran = await page.evaluate(() => window.__injected);
    expect(ran === undefined, `no injected script ran (${ran} did)`);
    cspBlocked.splice(before);
  });

  await step("meeting notes drafted from a transcript are checked, then published", async () => {
    await page.goto(`${base}/#/new/ENG`);
    await page.locator(".template-card", { hasText: "Meeting notes from a transcript" }).click();
    await page.locator("#transcript").fill(
      "Alice: The invoice job failed twice.\nBob: We decided to move it to the payments queue.\nAlice: Can you write the migration, Bob? Friday is fine.",
    );
    await page.getByRole("button", { name: "Draft the notes" }).click();
    const draft = page.locator("#draft-body");
    await draft.waitFor();
    const text = await draft.inputValue();
    expect(text.includes("- Alice\n- Bob\n"), `the attendees are the speakers (${text})`);
    expect(text.includes("**Bob**: Can you write the migration"), `the action item is Bob's (${text})`);
    // Nothing is published until the user creates the page.
    const before = (await api("GET", "/spaces/ENG/tree")).tree.length;
    await draft.fill(text.replace("Friday is fine.", "Friday is fine. (checked)"));
    await page.getByRole("button", { name: "Create page" }).click();
    await page.locator(".editor-host .cm-content").waitFor();
    const id = page.url().match(/#\/page\/(\d+)\/edit/)?.[1];
    const made = await api("GET", `/pages/${id}`);
    expect(made.markdown.includes("(checked)"), "the page is the draft as the user left it");
    expect(made.labels.includes("meeting-notes"), "the draft's labels are on the page");
    expect((await api("GET", "/spaces/ENG/tree")).tree.length === before + 1, "one page was added, when asked");
  });

  await step("a template drafted from notes fills its fields", async () => {
    await page.goto(`${base}/#/new/ENG`);
    await page.locator(".template-card", { hasText: "ADR" }).click();
    await page.locator("#draft-source").fill("ADR number: 8\nDecision: Cache tokens\nStatus: accepted\n\nLookups cost 40 ms.");
    await page.getByRole("button", { name: "Draft from the notes" }).click();
    const draft = page.locator("#draft-body");
    await draft.waitFor();
    const text = await draft.inputValue();
    expect(text.includes("# ADR 8: Cache tokens") && text.includes("**Status:** Accepted"), `the fields come from the notes (${text})`);
    expect(text.includes("Lookups cost 40 ms."), "the rest of the notes is kept");
    expect((await page.locator(".title-input, #new-title").first().inputValue()) === "ADR 8: Cache tokens", "the title is the draft's");
  });

  await step("readable at 200% zoom: nothing scrolls sideways, the tree opens on demand", async () => {
    // 200% zoom of a 1280x800 window is a 640x400 viewport in CSS pixels.
    await page.setViewportSize({ width: 640, height: 400 });
    await page.goto(`${base}/#/page/1000000000031`);
    await page.locator("h1.page-title", { hasText: "Deployment Guide" }).waitFor();
    const sideways = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(sideways <= 1, `the page scrolls sideways by ${sideways}px`);
    expect(!(await page.locator(".sidebar").isVisible()), "the tree starts closed on a narrow window");
    await page.getByRole("button", { name: /Toggle the page tree/ }).click();
    await row("Engineering Home").click();
    await page.locator("h1.page-title", { hasText: "Engineering Home" }).waitFor();
    expect(!(await page.locator(".sidebar").isVisible()), "picking a page closes the tree");
    await page.screenshot({ path: join(shots, "zoom.png") });
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  await step("dark theme and settings", async () => {
    await page.goto(`${base}/#/settings`);
    await page.getByRole("radio", { name: "dark" }).click();
    // Polled with evaluate: waitForFunction's polling evaluates a string, which the CSP forbids.
    await until(() => page.evaluate(() => document.documentElement.dataset.theme === "dark"), "the dark theme");
    await page.goto(`${base}/#/page/1000000000011`);
    await page.locator(".markdown-body figure.diagram svg").first().waitFor({ timeout: 20000 });
    await page.screenshot({ path: join(shots, "dark.png") });
  });

  expect(errors.length === 0, `no errors in the page: ${errors.join("; ")}`);
  expect(cspBlocked.length === 0, `the app works inside its CSP (editor, diagrams, live editing): ${cspBlocked.join("; ")}`);
  console.log(JSON.stringify({ ok: true, steps, timings, created }));
} catch (e) {
  await page.screenshot({ path: join(shots, "failure.png") }).catch(() => {});
  console.log(JSON.stringify({ ok: false, step: current, error: String(e?.message ?? e), errors, steps }));
  process.exitCode = 1;
} finally {
  await browser.close();
}
