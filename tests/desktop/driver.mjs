// The WebDriver client the desktop scripts share (desktop_test.mjs, footprint.mjs): tauri-driver
// on two free loopback ports, and requests over Node's fetch, which keeps its connection alive
// (tauri-driver fails at random with clients that close every connection).
import { spawn } from "node:child_process";
import { createServer } from "node:net";

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const freePort = () =>
  new Promise((resolve) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

/**
 * Starts tauri-driver (`TAURI_DRIVER`, else the one on PATH) and waits until it answers.
 * `timeoutMs`: how long one request may go unanswered, so a driver that stops answering fails
 * the step instead of hanging the caller. Returns `wd(method, path, body)` (the reply's
 * `value`), the driver's stderr so far, and `stop()`.
 */
export async function startDriver({ timeoutMs, readyMs = 20000 }) {
  const port = await freePort();
  const nativePort = await freePort();
  const child = spawn(process.env.TAURI_DRIVER ?? "tauri-driver", ["--port", String(port), "--native-port", String(nativePort)], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const base = `http://127.0.0.1:${port}`;
  const driver = {
    stderr: () => stderr,
    stop: () => child.kill(),
    async wd(method, path, body) {
      const r = await fetch(base + path, {
        method,
        headers: { "Content-Type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
      const json = await r.json().catch(() => ({}));
      if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(json.value ?? json)}`);
      return json.value;
    },
  };
  const end = Date.now() + readyMs;
  while (!(await fetch(`${base}/status`).then((r) => r.ok, () => false))) {
    if (Date.now() > end) {
      driver.stop();
      throw new Error(`tauri-driver did not answer within ${readyMs} ms: ${stderr.slice(-1000)}`);
    }
    await sleep(100);
  }
  return driver;
}
