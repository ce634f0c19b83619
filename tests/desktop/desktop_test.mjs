// The desktop app end to end, under Xvfb: tauri-driver drives Debian's WebKitWebDriver, which
// starts the real app binary. A first run on an empty wiki home offers the demo; the app shows
// the tree, opens a page and saves an edit; a screenshot of the window is checked to be a
// picture, not a blank. Run by tests/e2e/desktop.rs (which checks git afterwards).
//
//   node desktop_test.mjs APP_BINARY SCREENSHOT.png
//
// The WebDriver client is driver.mjs's.
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { inflateSync } from "node:zlib";
import { sleep, startDriver } from "./driver.mjs";

const [app, shot] = process.argv.slice(2);
if (!app || !shot) {
  console.error("usage: node desktop_test.mjs APP_BINARY SCREENSHOT.png");
  process.exit(2);
}

/** The page id in an app address (`#/page/ID?...`). */
const location = (hash) => hash.split("/")[2]?.split("?")[0];

async function until(what, fn, ms = 30000) {
  const end = Date.now() + ms;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      if (Date.now() > end) throw new Error(`${what}: ${e.message}`);
    }
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await sleep(150);
  }
}

const steps = [];
let session;
let driver;
let wd;
let current = "start";
try {
  current = "tauri-driver listens";
  driver = await startDriver({ timeoutMs: 60000 });
  wd = driver.wd;

  current = "the app starts";
  session = (await wd("POST", "/session", { capabilities: { alwaysMatch: { "tauri:options": { application: app } } } }))
    .sessionId;
  const s = `/session/${session}`;
  const js = (script, args = []) => wd("POST", `${s}/execute/sync`, { script, args });
  const find = async (css) => {
    const el = await wd("POST", `${s}/element`, { using: "css selector", value: css });
    return Object.values(el)[0];
  };
  const click = async (css) => wd("POST", `${s}/element/${await find(css)}/click`, {});
  const text = (css) => js(`const e = document.querySelector(arguments[0]); return e ? e.textContent : null;`, [css]);
  steps.push(current);

  current = "a first run offers the demo space";
  await until(current, () => text(".welcome h1"));
  await click(".welcome .button.primary");
  steps.push(current);

  current = "the tree shows the demo space and a page opens";
  await until(current, async () => (await js("return document.querySelectorAll('.tree-row').length")) >= 3);
  await until("the home page", async () => (await text("h1.page-title")) === "Engineering Home");
  await js(`[...document.querySelectorAll('.tree-row')].find(r => r.textContent.includes('Onboarding')).click()`);
  await until("the Onboarding page", async () => (await text("h1.page-title")) === "Onboarding");
  steps.push(current);

  current = "an edit is saved";
  await click(".page-actions a.button.primary");
  await until("the editor", () => text(".editor-host .cm-content"));
  const content = await find(".editor-host .cm-content");
  await wd("POST", `${s}/element/${content}/click`, {});
  await wd("POST", `${s}/element/${content}/value`, { text: " Edited in the desktop app." });
  // Live editing: "Saved" once the server holds the edit; committed when typing pauses.
  await until("the saved state", async () => (await text(".save-state")) === "Saved", 20000);
  const committed = () =>
    js(`return fetch('/api/v1/pages/' + location.hash.split('/')[2]).then(r => r.json()).then(p => p.markdown)`);
  await until("the edit committed to the page", async () => String(await committed()).includes("Edited in the desktop app."), 20000);
  steps.push(current);

  current = "the native menu's commands reach the page";
  // What File/View menu items send (the menu itself is native, out of WebDriver's reach).
  await js("window.dispatchEvent(new CustomEvent('cdo:command', {detail: 'search'}))");
  await until("the quick switcher", () => js("return !!document.querySelector('.switcher-input')"));
  await wd("POST", `${s}/element/${await find(".switcher-input")}/value`, { text: "\uE00C" });
  await until("the switcher closes", async () => !(await js("return !!document.querySelector('.switcher')")));
  steps.push(current);

  current = "a screenshot shows the window";
  await click(".editor-actions .button.primary");
  await until("the page again", async () => (await text("h1.page-title")) === "Onboarding");
  await sleep(600); // Screenshots lag the DOM a little.
  const png = Buffer.from(await wd("GET", `${s}/screenshot`), "base64");
  writeFileSync(shot, png);
  const colours = distinctColours(png);
  if (colours < 16) throw new Error(`the screenshot is nearly blank (${colours} colours)`);
  steps.push(current);

  current = "the window has no IPC: it asks nothing of the native side";
  const ipc = await js(`
    const internals = window.__TAURI_INTERNALS__;
    if (!internals || typeof internals.invoke !== "function") return "no IPC";
    return internals.invoke("plugin:updater|check", {}).then(() => "allowed", (e) => "refused: " + e);`);
  if (ipc === "allowed") throw new Error("the page could call the updater plugin: the window has capabilities it does not use");
  steps.push(`${current} (${ipc})`);

  current = "a second launch with a confluence-do:// link shows that page here, and exits";
  const onboarding = location(await js("return location.hash"));
  await js(`[...document.querySelectorAll('.tree-row')].find(r => r.textContent.includes('Engineering Home')).click()`);
  await until("the home page again", async () => (await text("h1.page-title")) === "Engineering Home");
  const launch = (...args) => {
    const started = Date.now();
    const r = spawnSync(app, args, { encoding: "utf8", timeout: 30000 });
    if (r.error || r.status !== 0) {
      throw new Error(`the second launch (${args.join(" ")}) did not hand over and exit: ${r.error ?? `status ${r.status}`} ${r.stderr}`);
    }
    return Date.now() - started;
  };
  const handoffMs = launch(`confluence-do://page/${onboarding}`);
  await until("the linked page", async () => (await text("h1.page-title")) === "Onboarding");
  launch("confluence-do://page/ENG/Engineering%20Home");
  await until("the page linked by its title", async () => (await text("h1.page-title")) === "Engineering Home");
  launch("confluence-do://page/424242424242");
  await until("no such page, and a search for it", async () => String(await text(".no-such-page")).includes("No such page"));
  launch();
  const windows = await wd("GET", `${s}/window/handles`);
  if (windows.length !== 1) throw new Error(`a second launch made ${windows.length} windows, not one`);
  steps.push(`${current} (${handoffMs} ms)`);

  current = "the page menu copies the page's confluence-do:// link";
  launch(`confluence-do://page/${onboarding}`);
  await until("the linked page", async () => (await text("h1.page-title")) === "Onboarding");
  await click(".page-menu summary");
  const offered = await until("Copy link", () => text(".page-menu .copy-link"));
  if (!offered.startsWith("Copy link") || !offered.includes(`confluence-do://page/${onboarding}`)) {
    throw new Error(`the menu offers "${offered}", not the page's link`);
  }
  await click(".page-menu .copy-link");
  await until("the link copied", async () => (await text(".copied")) === "Link copied");
  steps.push(current);

  console.log(JSON.stringify({ ok: true, steps }));
} catch (e) {
  console.log(JSON.stringify({ ok: false, step: current, error: String(e?.message ?? e), steps, driver: driver?.stderr().slice(-2000) }));
  process.exitCode = 1;
} finally {
  if (session) await wd("DELETE", `/session/${session}`).catch((e) => console.error(`closing the session: ${e.message}`));
  driver?.stop();
  await reapApp();
}

/**
 * The app is the driver's grandchild and holds the driver's stderr: should it outlive its
 * session (a CI run once sat for minutes with the window still open), this script and the
 * suite would wait on it. Give it 20 s to quit, then kill it, and say so.
 */
async function reapApp() {
  const pattern = "^" + app.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const running = () => spawnSync("pgrep", ["-f", pattern]).status === 0;
  const end = Date.now() + 20000;
  while (running() && Date.now() < end) await sleep(200);
  if (running()) {
    console.error("the app was still running 20 s after its session closed: killed");
    spawnSync("pkill", ["-KILL", "-f", pattern]);
  }
}

/** How many different colours a PNG has (sampled), read with zlib alone. */
function distinctColours(png) {
  let at = 8;
  let width = 0;
  let height = 0;
  let type = 0;
  const idat = [];
  while (at < png.length) {
    const len = png.readUInt32BE(at);
    const kind = png.toString("ascii", at + 4, at + 8);
    const data = png.subarray(at + 8, at + 8 + len);
    if (kind === "IHDR") {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      type = data[9];
    } else if (kind === "IDAT") idat.push(data);
    at += 12 + len;
  }
  const bpp = type === 6 ? 4 : 3;
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * bpp;
  const prev = Buffer.alloc(stride);
  const row = Buffer.alloc(stride);
  const seen = new Set();
  for (let y = 0; y < height; y++) {
    const f = raw[y * (stride + 1)];
    const src = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let i = 0; i < stride; i++) {
      const a = i >= bpp ? row[i - bpp] : 0;
      const b = prev[i];
      const c = i >= bpp ? prev[i - bpp] : 0;
      const p = a + b - c;
      const pred = f === 1 ? a : f === 2 ? b : f === 3 ? (a + b) >> 1 : f === 4 ? (Math.abs(p - a) <= Math.abs(p - b) && Math.abs(p - a) <= Math.abs(p - c) ? a : Math.abs(p - b) <= Math.abs(p - c) ? b : c) : 0;
      row[i] = (src[i] + pred) & 255;
    }
    if (y % 7 === 0) for (let x = 0; x < width; x += 5) seen.add(row.readUIntBE(x * bpp, 3));
    row.copy(prev);
  }
  return seen.size;
}
