// The web UI's speed in a real browser (Debian's Chromium through playwright-core), run by
// `cdo-bench ui` against a release server holding a large space:
//   - the page tree: the time from the page's `load` event (and from navigation start) to the
//     first rows of the space's tree on screen, over fresh page loads;
//   - the quick switcher: the time from the last keystroke of a query to its results on screen,
//     measured inside the page (keydown to the last change of the result list).
//
//   node bench.mjs BASE_URL SPACE_KEY WORD...
//
// Prints one JSON line: {"tree": {...}, "switcher": {...}}.
import { chromium } from "playwright-core";

const [base, key, ...words] = process.argv.slice(2);
if (!base || !key || words.length === 0) {
  console.error("usage: node bench.mjs BASE_URL SPACE_KEY WORD...");
  process.exit(2);
}
// The sidebar shows the space's name: that is how the script knows the right tree is on screen.
const spaces = (await (await fetch(`${base}/api/v1/spaces`)).json()).spaces;
const name = spaces.find((s) => s.key === key)?.name;
if (!name) {
  console.error(`no space ${key} on ${base}`);
  process.exit(2);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const summary = (xs) => ({ n: xs.length, p50: +pct(xs, 50).toFixed(1), p99: +pct(xs, 99).toFixed(1), max: +Math.max(...xs).toFixed(1) });

// Marks the first frame in which the space's tree has rows (watched from the first script on).
const watchTree = `(() => {
  const seen = () => {
    const head = document.querySelector(".sidebar-head strong");
    return document.querySelector(".tree-row") && head && head.textContent === ${JSON.stringify(name)};
  };
  const obs = new MutationObserver(() => {
    if (window.__treeAt === undefined && seen()) requestAnimationFrame(() => { window.__treeAt = performance.now(); obs.disconnect(); });
  });
  obs.observe(document, { childList: true, subtree: true, characterData: true });
})();`;

const tree = { fromLoad: [], fromNavigation: [], rows: 0 };
for (let i = 0; i < 8; i++) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  await context.addInitScript(watchTree);
  const page = await context.newPage();
  await page.goto(`${base}/#/space/${encodeURIComponent(key)}`);
  await page.waitForFunction(() => window.__treeAt !== undefined, null, { timeout: 30000 });
  const t = await page.evaluate(() => ({
    at: window.__treeAt,
    load: performance.getEntriesByType("navigation")[0].loadEventEnd,
  }));
  if (i > 0) {
    // The first load warms the server's caches and the browser's; the rest are measured.
    tree.fromLoad.push(Math.max(0, t.at - t.load));
    tree.fromNavigation.push(t.at);
  }
  tree.rows = await page.locator(".tree-row").count();
  await context.close();
}

const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
const page = await context.newPage();
await page.goto(`${base}/#/space/${encodeURIComponent(key)}`);
await page.locator(".tree-row").first().waitFor();
const switcher = [];
const empty = [];
// One query first, unmeasured: the server loads its vector store on the first semantic search.
const warm = await fetch(`${base}/api/v1/search?q=${encodeURIComponent(words[0])}&mode=hybrid`);
if (!warm.ok) throw new Error(`search failed: ${warm.status}`);
for (const word of words) {
  await page.keyboard.press("Escape");
  await page.locator("h1.page-title").first().click();
  await page.keyboard.press("Control+k");
  const input = page.locator(".switcher-input");
  await input.waitFor();
  await page.evaluate(() => {
    const list = document.getElementById("switcher-results");
    window.__lastKey = 0;
    window.__lastChange = 0;
    document.querySelector(".switcher-input").addEventListener("keydown", () => (window.__lastKey = performance.now()), true);
    new MutationObserver(() => (window.__lastChange = performance.now())).observe(list, { childList: true, subtree: true, characterData: true });
  });
  // Typed as a person types; the answer to the full word is the one measured.
  await input.pressSequentially(word.slice(0, -1), { delay: 70 });
  const answer = page.waitForResponse((r) => r.url().includes("/api/v1/search?") && new URL(r.url()).searchParams.get("q") === word);
  await input.press(word.slice(-1));
  await answer;
  // The result list settles: no change for three frames.
  const ms = await page.evaluate(async () => {
    let last = -1;
    for (let quiet = 0; quiet < 3; ) {
      await new Promise((r) => requestAnimationFrame(r));
      if (window.__lastChange === last) quiet++;
      else (last = window.__lastChange), (quiet = 0);
    }
    return window.__lastChange > window.__lastKey ? window.__lastChange - window.__lastKey : null;
  });
  if (ms === null) empty.push(word);
  else switcher.push(ms);
  await page.keyboard.press("Escape");
}
await browser.close();

console.log(JSON.stringify({
  tree: {
    rows: tree.rows,
    fromLoad: { ...summary(tree.fromLoad), each: tree.fromLoad.map((x) => +x.toFixed(1)) },
    fromNavigation: summary(tree.fromNavigation),
  },
  switcher: { ...summary(switcher), each: switcher.map((x) => +x.toFixed(1)), unchanged: empty },
}));
