// The server's UI API (`/api/v1`), typed. Every call throws an `ApiError` whose message is the
// server's own sentence (they say what to do next), with the status and any data it attached.

export interface SpaceEntry {
  key: string;
  name: string;
  description?: string | null;
}

export interface TreeNode {
  id: string;
  title: string;
  kind: string;
  path: string;
  children: TreeNode[];
}

export interface Heading {
  level: number;
  text: string;
  anchor: string;
}

export interface Person {
  name: string;
  email: string;
}

export interface Page {
  id: string;
  space: string;
  title: string;
  path: string;
  parent: string | null;
  labels: string[];
  version: number;
  markdown: string;
  html: string;
  headings: Heading[];
  links: Record<string, string>;
  breadcrumbs: { id: string; title: string }[];
  fields: { name: string; value: unknown }[];
  diagnostics: string[];
  lastEditor: Person | null;
  updated: string | null;
  created: string | null;
}

export interface Snippet {
  anchor: string;
  heading: string;
  text: string;
  highlights: [number, number][];
}

export interface AnswerSource {
  /** The citation number in the answer; 0 for a source it does not quote. */
  n: number;
  space: string;
  id: string;
  title: string;
  section: string;
  anchor: string;
  relevance: number;
}

export interface Answer {
  answer: string;
  supported: boolean;
  sources: AnswerSource[];
  /** "extractive", or the model that wrote the answer. */
  by: string;
  dropped?: string[];
  note?: string;
}

export interface FreshnessIssue {
  type: "broken_link" | "code_drift" | "stale" | "contradiction";
  section: string;
  line: number;
  detail: string;
  suggestion?: string;
}

export interface Freshness {
  status: "fresh" | "stale" | "broken";
  confidence: number;
  issues: FreshnessIssue[];
  lastVerified: string;
}

export interface Draft {
  title: string;
  body: string;
  labels: string[];
  by: string;
  note?: string;
}

export interface Hit {
  space: string;
  id: string;
  title: string;
  path: string;
  labels: string[];
  updated: number;
  score: number;
  snippet: Snippet;
}

export interface SearchResult {
  query: string;
  results: Hit[];
  semantic: { used: boolean; pending?: number; total?: number; hint?: string };
}

export interface Version {
  version: number;
  commit: string;
  author: Person;
  date: string;
  message: string;
  path: string;
}

export interface WordChange {
  op: "equal" | "insert" | "delete";
  text: string;
}

export interface Diff {
  from: number;
  to: number;
  unified: string;
  words: WordChange[];
}

export interface TemplateField {
  name: string;
  type: string;
  label?: string | null;
  required: boolean;
  default?: unknown;
  options: string[];
}

export interface Template {
  name: string;
  title?: string | null;
  description?: string | null;
  labels: string[];
  fields: TemplateField[];
  body: string;
  error?: string;
}

export interface Me {
  signedIn: boolean;
  authRequired: boolean;
  name: string;
  email: string;
  admin: boolean;
}

export interface SyncState {
  remote: boolean;
  running: boolean;
  last: null | {
    at: string;
    reached: boolean;
    error: string | null;
    upToDate: boolean;
    merged: boolean;
    fastForward: boolean;
    pushed: boolean;
    queued: number;
  };
  failure: string | null;
  conflicts: { id: string; title: string; path: string }[];
}

export interface Attachment {
  name: string;
  size: number;
  mediaType: string;
  path: string;
}

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly data?: any,
  ) {
    super(message);
  }
}

const BASE = "/api/v1";

async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  let response: Response;
  try {
    response = await fetch(BASE + path, {
      method,
      headers: body === undefined || body instanceof FormData ? {} : { "Content-Type": "application/json" },
      body: body === undefined ? undefined : body instanceof FormData ? body : JSON.stringify(body),
      credentials: "same-origin",
    });
  } catch {
    throw new ApiError("Cannot reach the wiki server. Check that `confluence-do serve` is running, then retry.", 0);
  }
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  let json: any = undefined;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    // Not JSON: the message is the text.
  }
  if (!response.ok) {
    const message = json?.message ?? (text || response.statusText);
    throw new ApiError(message, response.status, json?.data);
  }
  return json as T;
}

const enc = encodeURIComponent;

export const api = {
  me: () => call<Me>("GET", "/me"),
  login: (email: string, password: string) => call<Me>("POST", "/login", { email, password }),
  logout: () => call<void>("POST", "/logout"),
  spaces: () => call<{ spaces: SpaceEntry[] }>("GET", "/spaces").then((r) => r.spaces),
  installDemo: () => call<SpaceEntry>("POST", "/demo"),
  createSpace: (key: string, name: string, description?: string) =>
    call<SpaceEntry>("POST", "/spaces", { key, name, description }),
  tree: (key: string) => call<{ tree: TreeNode[] }>("GET", `/spaces/${enc(key)}/tree`).then((r) => r.tree),
  templates: (key: string) =>
    call<{ templates: Template[] }>("GET", `/spaces/${enc(key)}/templates`).then((r) => r.templates),
  labels: (key: string) =>
    call<{ labels: { name: string; pages: number }[] }>("GET", `/spaces/${enc(key)}/labels`).then((r) => r.labels),
  page: (id: string) => call<Page>("GET", `/pages/${enc(id)}`),
  teamServer: (key: string) => call<{ joined: boolean; url?: string }>("GET", `/spaces/${enc(key)}/team-server`),
  joinTeamServer: (key: string, url: string, token: string) =>
    call<{ joined: boolean; url?: string }>("PUT", `/spaces/${enc(key)}/team-server`, { url, token }),
  leaveTeamServer: (key: string) => call<null>("DELETE", `/spaces/${enc(key)}/team-server`),
  syncState: (key: string) => call<SyncState>("GET", `/spaces/${enc(key)}/sync`),
  syncNow: (key: string) => call<SyncState>("POST", `/spaces/${enc(key)}/sync`),
  /** Commits the page's live edits now; answers the page as committed. */
  settle: (id: string) => call<Page>("POST", `/pages/${enc(id)}/settle`),
  createPage: (
    key: string,
    input: {
      title?: string;
      body?: string;
      parent?: string | null;
      labels?: string[];
      template?: string;
      fields?: Record<string, string>;
      position?: number;
    },
  ) => call<Page>("POST", `/spaces/${enc(key)}/pages`, input),
  updatePage: (id: string, input: { title?: string; body?: string; labels?: string[]; baseVersion: number }) =>
    call<Page>("PUT", `/pages/${enc(id)}`, input),
  deletePage: (id: string) => call<void>("DELETE", `/pages/${enc(id)}`),
  movePage: (id: string, parent: string | null, position?: number) =>
    call<Page>("POST", `/pages/${enc(id)}/move`, { parent, position }),
  restore: (id: string, version?: number) => call<Page>("POST", `/pages/${enc(id)}/restore`, { version }),
  history: (id: string) => call<{ versions: Version[] }>("GET", `/pages/${enc(id)}/history`).then((r) => r.versions),
  diff: (id: string, from: number, to: number) => call<Diff>("GET", `/pages/${enc(id)}/diff?from=${from}&to=${to}`),
  backlinks: (id: string) =>
    call<{ backlinks: { id: string; title: string }[] }>("GET", `/pages/${enc(id)}/backlinks`).then(
      (r) => r.backlinks,
    ),
  /** A draft for the user to edit and publish; nothing is written. */
  draft: (key: string, input: { kind: "notes" | "page" | "docs"; transcript?: string; template?: string; context?: string; path?: string }) =>
    call<Draft>("POST", `/spaces/${enc(key)}/drafts`, input),
  freshness: (id: string) => call<Freshness>("GET", `/pages/${enc(id)}/freshness`),
  related: (id: string) => call<{ related: Hit[] }>("GET", `/pages/${enc(id)}/related`).then((r) => r.related),
  attachments: (id: string) =>
    call<{ attachments: Attachment[] }>("GET", `/pages/${enc(id)}/attachments`).then((r) => r.attachments),
  upload: (id: string, file: File) => {
    const form = new FormData();
    form.append("file", file, file.name);
    return call<{ attachments: Attachment[] }>("POST", `/pages/${enc(id)}/attachments`, form).then(
      (r) => r.attachments,
    );
  },
  /** Asks the wiki: `onToken` sees the model's words as they stream, `onAnswer` the checked answer.
   * Returns a function that stops listening. */
  ask: (q: string, space: string | undefined, onToken: (piece: string) => void, onAnswer: (a: Answer) => void, onError: (e: string) => void) => {
    const params = new URLSearchParams({ q });
    if (space) params.set("space", space);
    const events = new EventSource(`${BASE}/ask/stream?${params}`, { withCredentials: true });
    let done = false;
    events.addEventListener("token", (e) => onToken((e as MessageEvent).data));
    events.addEventListener("answer", (e) => {
      done = true;
      events.close();
      onAnswer(JSON.parse((e as MessageEvent).data) as Answer);
    });
    events.onerror = () => {
      if (done) return;
      events.close();
      // EventSource hides the status: ask again plainly for the error's words.
      call<Answer>("GET", `/ask?${params}`).then(onAnswer, (err) => onError((err as Error).message));
    };
    return () => events.close();
  },
  search: (q: string, opts: { mode?: string; space?: string; label?: string; limit?: number }, signal?: AbortSignal) => {
    const params = new URLSearchParams({ q, mode: opts.mode ?? "keyword", limit: String(opts.limit ?? 20) });
    if (opts.space) params.set("space", opts.space);
    if (opts.label) params.set("label", opts.label);
    return fetch(`${BASE}/search?${params}`, { signal, credentials: "same-origin" }).then(async (r) => {
      const json = await r.json().catch(() => ({}));
      if (!r.ok) throw new ApiError(json.message ?? r.statusText, r.status);
      return json as SearchResult;
    });
  },
};

/** Splits a snippet into plain and highlighted runs (its ranges are UTF-8 byte offsets). */
export function snippetRuns(s: Snippet): { text: string; mark: boolean }[] {
  const bytes = new TextEncoder().encode(s.text);
  const dec = new TextDecoder();
  const runs: { text: string; mark: boolean }[] = [];
  let at = 0;
  for (const [start, end] of [...s.highlights].sort((a, b) => a[0] - b[0])) {
    if (start < at || end > bytes.length) continue;
    if (start > at) runs.push({ text: dec.decode(bytes.slice(at, start)), mark: false });
    runs.push({ text: dec.decode(bytes.slice(start, end)), mark: true });
    at = end;
  }
  if (at < bytes.length) runs.push({ text: dec.decode(bytes.slice(at)), mark: false });
  return runs;
}

/** "3 minutes ago", "yesterday", or a date. */
export function ago(iso: string | null | undefined): string {
  if (!iso) return "";
  const then = new Date(iso).getTime();
  if (Number.isNaN(then)) return iso;
  const s = Math.round((Date.now() - then) / 1000);
  if (s < 45) return "just now";
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  if (s < 172800) return "yesterday";
  return new Date(iso).toLocaleDateString(undefined, { year: "numeric", month: "short", day: "numeric" });
}
