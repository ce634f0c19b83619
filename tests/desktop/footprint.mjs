// The desktop app's footprint, measured on the real app under Xvfb (scripts/bench-desktop runs
// it): the time from launch to the first page shown, and the memory of the app and of WebKit's
// processes once it is idle.
//
//   node footprint.mjs APP RUNS IDLE_SECONDS [APP ARGS...]
//
// Each run starts the app through tauri-driver with APP ARGS and waits for a page title
// (h1.page-title); the last run then idles and sums VmRSS and PSS over the app's process tree,
// 5 s after the page showed and at the end of the idle time.
// Prints one JSON line.
import { spawnSync } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { sleep, startDriver } from "./driver.mjs";

const [app, runs, idle, ...args] = process.argv.slice(2);
if (!app || !runs || !idle) {
  console.error("usage: node footprint.mjs APP RUNS IDLE_SECONDS [APP ARGS...]");
  process.exit(2);
}
/** Every process under `root` (WebKit's web and network processes are the app's children). */
function tree(root) {
  const parents = new Map();
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      parents.set(Number(pid), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
    } catch {}
  }
  const out = [root];
  for (let i = 0; i < out.length; i++) for (const [pid, ppid] of parents) if (ppid === out[i]) out.push(pid);
  return out;
}
function memory(pid) {
  const kb = (text, key) => Number(text.match(new RegExp(`^${key}:\\s+(\\d+) kB`, "m"))?.[1] ?? 0);
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
  const name = readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  return { name, rssMb: kb(status, "VmRSS") / 1024, pssMb: kb(rollup, "Pss") / 1024 };
}

let driver;
try {
  driver = await startDriver({ timeoutMs: 120000 });
  const { wd } = driver;
  const launches = [];
  let processes = [];
  let early = [];
  for (let run = 1; run <= Number(runs); run++) {
    const started = Date.now();
    const session = (await wd("POST", "/session", { capabilities: { alwaysMatch: { "tauri:options": { application: app, args } } } }))
      .sessionId;
    const js = (script) => wd("POST", `/session/${session}/execute/sync`, { script, args: [] });
    for (;;) {
      if (await js("return !!document.querySelector('h1.page-title')").catch(() => false)) break;
      if (Date.now() - started > 120000) throw new Error("no page was shown within 2 minutes");
      await sleep(20);
    }
    launches.push(Date.now() - started);
    if (run === Number(runs)) {
      const pid = Number(spawnSync("pgrep", ["-o", "-f", "^" + app.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")], { encoding: "utf8" }).stdout.trim());
      await sleep(5000);
      early = tree(pid).map(memory);
      await sleep(Math.max(0, Number(idle) * 1000 - 5000));
      processes = tree(pid).map(memory);
    }
    await wd("DELETE", `/session/${session}`);
    await sleep(500);
  }
  const total = (list, k) => Math.round(list.reduce((s, p) => s + p[k], 0));
  const round = (list) => list.map((p) => ({ name: p.name, rssMb: Math.round(p.rssMb), pssMb: Math.round(p.pssMb) }));
  console.log(
    JSON.stringify({
      ok: true,
      launchMs: launches,
      after5s: { rssMb: total(early, "rssMb"), pssMb: total(early, "pssMb"), processes: round(early) },
      idle: { rssMb: total(processes, "rssMb"), pssMb: total(processes, "pssMb"), processes: round(processes) },
    }),
  );
} catch (e) {
  console.log(JSON.stringify({ ok: false, error: String(e?.message ?? e) }));
  process.exitCode = 1;
} finally {
  driver?.stop();
}
