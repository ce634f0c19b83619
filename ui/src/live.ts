// Live co-editing: the page's Y.Text (`content`) over the server's y-websocket endpoint
// (`/sync/<page id>`, same origin, so the session cookie authenticates), presence with names and
// colours, and a real "saved" signal: after local edits the client asks for the server's state
// (sync step 1); the server answers only after the edits before it are on disk.
import { WebsocketProvider } from "y-websocket";
import * as Y from "yjs";

export type LiveStatus = "connecting" | "live" | "offline";

export interface Person {
  client: number;
  name: string;
  color: string;
}

const COLORS = ["#d6336c", "#1c7ed6", "#2b8a3e", "#e8590c", "#7048e8", "#0c8599", "#c2255c", "#5c940d"];

export function colorOf(name: string): string {
  let h = 0;
  for (const c of name) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return COLORS[h % COLORS.length];
}

/** Whether live editing is wanted (a setting; off falls back to saving through the API). */
export function liveWanted(): boolean {
  try {
    return localStorage.getItem("cdo.live") !== "off";
  } catch {
    return true;
  }
}

export class LiveSession {
  readonly doc = new Y.Doc();
  readonly text: Y.Text;
  readonly provider: WebsocketProvider;
  readonly undo: Y.UndoManager;
  private listeners = new Set<() => void>();
  status: LiveStatus = "connecting";
  /** Local edits not yet confirmed durable by the server. */
  pending = false;
  private askedAt = 0;
  private timer: number | undefined;

  constructor(pageId: string, me: { name: string }) {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    this.text = this.doc.getText("content");
    this.undo = new Y.UndoManager(this.text);
    this.provider = new WebsocketProvider(`${scheme}//${location.host}/sync`, pageId, this.doc, {
      disableBc: true,
      maxBackoffTime: 5000,
    });
    const color = colorOf(me.name);
    this.provider.awareness.setLocalStateField("user", { name: me.name, color, colorLight: color + "33" });
    this.provider.on("status", ({ status }: { status: string }) => {
      this.status = status === "connected" ? (this.provider.synced ? "live" : "connecting") : status === "disconnected" ? "offline" : "connecting";
      if (status === "connected") this.watchAcks();
      this.emit();
    });
    this.provider.on("sync", (synced: boolean) => {
      if (synced && this.provider.wsconnected) this.status = "live";
      // A resync after reconnecting carried everything made offline.
      if (synced && this.pending) this.askForAck();
      this.emit();
    });
    this.provider.awareness.on("change", () => this.emit());
    this.doc.on("update", (_u: Uint8Array, origin: unknown) => {
      if (origin === this.provider) return;
      this.pending = true;
      window.clearTimeout(this.timer);
      this.timer = window.setTimeout(() => this.askForAck(), 250);
      this.emit();
    });
  }

  /** Sync step 1 with our state: the server's answer (step 2) comes after our edits are durable. */
  private askForAck() {
    const ws = this.provider.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return;
    const sv = Y.encodeStateVector(this.doc);
    const frame = new Uint8Array(2 + varuintLength(sv.length) + sv.length);
    frame[0] = 0; // sync
    frame[1] = 0; // step 1
    const at = writeVarUint(frame, 2, sv.length);
    frame.set(sv, at);
    this.askedAt = Date.now();
    ws.send(frame);
  }

  private watchAcks() {
    const ws = this.provider.ws;
    if (!ws) return;
    ws.addEventListener("message", (e: MessageEvent) => {
      const data = new Uint8Array(e.data as ArrayBuffer);
      // Sync step 2 answers a step 1; everything we sent before it is on the server's disk.
      if (data[0] === 0 && data[1] === 1 && this.askedAt) {
        this.askedAt = 0;
        this.pending = false;
        this.emit();
      }
    });
  }

  people(): Person[] {
    const out: Person[] = [];
    this.provider.awareness.getStates().forEach((state, client) => {
      const user = (state as { user?: { name?: string; color?: string } }).user;
      if (user?.name) out.push({ client, name: user.name, color: user.color ?? colorOf(user.name) });
    });
    return out.sort((a, b) => (a.client === this.doc.clientID ? -1 : b.client === this.doc.clientID ? 1 : a.name.localeCompare(b.name)));
  }

  isMe(p: Person): boolean {
    return p.client === this.doc.clientID;
  }

  /** Resolves once the document has the server's text (or rejects after `ms`). */
  ready(ms: number): Promise<void> {
    if (this.provider.synced) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = window.setTimeout(() => {
        this.provider.off("sync", on);
        reject(new Error("the live server did not answer"));
      }, ms);
      const on = (synced: boolean) => {
        if (!synced) return;
        window.clearTimeout(timer);
        this.provider.off("sync", on);
        resolve();
      };
      this.provider.on("sync", on);
    });
  }

  /** Resolves when the server holds every local edit (or after `ms`, or when offline). */
  acked(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = window.setTimeout(done, ms);
      const off = this.onChange(() => {
        if (!this.pending || this.status !== "live") done();
      });
      function done() {
        window.clearTimeout(timer);
        off();
        resolve();
      }
      if (!this.pending || this.status !== "live") done();
    });
  }

  onChange(f: () => void): () => void {
    this.listeners.add(f);
    return () => void this.listeners.delete(f);
  }

  private emit() {
    this.listeners.forEach((f) => f());
  }

  destroy() {
    window.clearTimeout(this.timer);
    this.listeners.clear();
    this.provider.destroy();
    this.doc.destroy();
  }
}

function varuintLength(n: number): number {
  let len = 1;
  while (n > 127) {
    n = Math.floor(n / 128);
    len++;
  }
  return len;
}

function writeVarUint(buf: Uint8Array, at: number, n: number): number {
  while (n > 127) {
    buf[at++] = (n & 127) | 128;
    n = Math.floor(n / 128);
  }
  buf[at++] = n;
  return at;
}
