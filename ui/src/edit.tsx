// Editing a page: title, labels and the Markdown source with a live-styled editor, a toolbar and
// a `/` menu, images pasted or dropped as attachments, autosave with a visible state, and a
// stale save (409) shown as "changed by X" with a three-way merge, never a silent overwrite.
import type { EditorView } from "@codemirror/view";
import { mergeDiff3 } from "node-diff3";
import { useEffect, useRef, useState } from "preact/hooks";
import { yCollab } from "y-codemirror.next";
import { api, ApiError, type Page } from "./api";
import { LiveSession, liveWanted } from "./live";
import { createEditor, insertBlock, link, prefixLines, setText, SLASH_ITEMS, wrap } from "./markdown-editor";
import { href } from "./router";
import { trackUnsaved } from "./unsaved";

/** How long the editor waits for the live server before editing alone (saving through the API). */
const LIVE_WAIT_MS = 4000;

type SaveState =
  | { kind: "saved"; at: Date }
  | { kind: "dirty" }
  | { kind: "saving" }
  | { kind: "error"; message: string }
  | { kind: "conflict"; current: Page; message: string };

const AUTOSAVE_MS = 1200;

/** Three-way merge of Markdown by lines; conflicting runs keep both sides between markers. */
export function merge3(base: string, mine: string, theirs: string, who: string) {
  const split = (s: string) => s.split("\n");
  const result = mergeDiff3(split(mine), split(base), split(theirs), {
    label: { a: "your edit", o: "the version you started from", b: `${who}'s edit` },
  });
  return { text: result.result.join("\n"), conflict: result.conflict };
}

export function Editor(props: {
  page: Page;
  me?: { name: string };
  onSaved: (page: Page) => void;
  onDone: (page: Page) => void;
}) {
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);
  // Co-editing: the body lives in the page's shared document; title and labels still save
  // through the API. `null` while connecting or when editing alone.
  const live = useRef<LiveSession | null>(null);
  const [liveState, setLiveState] = useState(0);
  const [mode, setMode] = useState<"starting" | "live" | "alone">(liveWanted() ? "starting" : "alone");
  // What the server has: the version we edit on top of and its text (the merge base).
  const base = useRef({ version: props.page.version, markdown: props.page.markdown, title: props.page.title });
  const [title, setTitle] = useState(props.page.title);
  const [labels, setLabels] = useState(props.page.labels.join(", "));
  const [state, setStateNow] = useState<SaveState>({ kind: "saved", at: new Date() });
  const timer = useRef<number | undefined>(undefined);
  const saving = useRef<Promise<void> | null>(null);
  const latest = useRef(props.page);
  const fileInput = useRef<HTMLInputElement>(null);

  const titleRef = useRef(title);
  titleRef.current = title;
  const labelsRef = useRef(labels);
  labelsRef.current = labels;
  // Read by callbacks right after a change, before the next render.
  const stateRef = useRef(state);
  const setState = (next: SaveState) => {
    stateRef.current = next;
    setStateNow(next);
  };

  const labelList = () =>
    labelsRef.current
      .split(",")
      .map((l) => l.trim())
      .filter(Boolean);

  const changed = () => {
    // Live, the body is saved by the live session; only title and labels go through the API.
    const text = live.current ? base.current.markdown : (view.current?.state.doc.toString() ?? "");
    return (
      text !== base.current.markdown ||
      titleRef.current.trim() !== base.current.title ||
      labelList().join(",") !== latest.current.labels.join(",")
    );
  };

  const save = async (): Promise<void> => {
    window.clearTimeout(timer.current);
    if (saving.current) await saving.current;
    if (stateRef.current.kind === "conflict" || !view.current || !changed()) {
      if (stateRef.current.kind === "dirty") setState({ kind: "saved", at: new Date() });
      return;
    }
    const isLive = live.current !== null;
    const body = isLive ? base.current.markdown : view.current.state.doc.toString();
    const sentTitle = titleRef.current.trim() || base.current.title;
    setState({ kind: "saving" });
    const run = (async () => {
      try {
        // Live, the version moves with every commit of the live text: base on the latest.
        const version = isLive ? (await api.page(props.page.id)).version : base.current.version;
        const page = await api.updatePage(props.page.id, {
          title: sentTitle,
          body: isLive ? undefined : body,
          labels: labelList(),
          baseVersion: version,
        });
        base.current = { version: page.version, markdown: isLive ? base.current.markdown : body, title: page.title };
        latest.current = page;
        props.onSaved(page);
        setState(changed() ? { kind: "dirty" } : { kind: "saved", at: new Date() });
        if (changed()) schedule();
      } catch (e) {
        const err = e as ApiError;
        if (err.status === 409 && err.data?.current) {
          setState({ kind: "conflict", current: err.data.current as Page, message: err.message });
        } else {
          setState({ kind: "error", message: err.message });
        }
      }
    })();
    saving.current = run;
    await run;
    saving.current = null;
  };

  const schedule = () => {
    window.clearTimeout(timer.current);
    if (stateRef.current.kind !== "conflict") setState({ kind: "dirty" });
    timer.current = window.setTimeout(() => void save(), AUTOSAVE_MS);
  };

  const upload = async (files: File[], at: number) => {
    const v = view.current;
    if (!v) return;
    for (const file of files) {
      try {
        const list = await api.upload(props.page.id, file);
        const stored = list.find((a) => a.name === file.name) ?? list[0];
        const name = stored?.name ?? file.name;
        // Relative to the page: `guide.md` keeps its files in `guide.attachments/`.
        const stem = props.page.path.replace(/\.md$/, "").split("/").pop() ?? "page";
        const target = `${encodeURI(stem)}.attachments/${encodeURIComponent(name)}`;
        const text = file.type.startsWith("image/") ? `![${name}](${target})` : `[${name}](${target})`;
        insertBlock(v, text + "\n", at);
      } catch (e) {
        setState({ kind: "error", message: `Could not attach ${file.name}: ${(e as Error).message}` });
      }
    }
  };

  useEffect(() => {
    let cancelled = false;
    let v: EditorView | null = null;
    const hooks = {
      onChange: () => {
        if (!live.current) schedule();
      },
      onSave: () => void save(),
      onFiles: (files: File[], at: number) => void upload(files, at),
    };
    const start = (session: LiveSession | null) => {
      if (cancelled || !host.current) return;
      live.current = session;
      const text = session ? session.text.toString() : props.page.markdown;
      const binding = session ? yCollab(session.text, session.provider.awareness, { undoManager: session.undo }) : undefined;
      v = createEditor(host.current, text, hooks, binding);
      view.current = v;
      setMode(session ? "live" : "alone");
      v.focus();
    };
    if (liveWanted()) {
      const session = new LiveSession(props.page.id, props.me ?? { name: "Someone" });
      session.onChange(() => setLiveState((n) => n + 1));
      session.ready(LIVE_WAIT_MS).then(
        () => (cancelled ? session.destroy() : start(session)),
        () => {
          // No live server (or it is unreachable): edit alone, saving through the API.
          session.destroy();
          start(null);
        },
      );
    } else {
      start(null);
    }
    const beforeUnload = (e: BeforeUnloadEvent) => {
      if (changed() || live.current?.pending) e.preventDefault();
    };
    addEventListener("beforeunload", beforeUnload);
    const untrack = trackUnsaved(() =>
      changed() || live.current?.pending || stateRef.current.kind === "conflict"
        ? `"${titleRef.current.trim() || props.page.title}": ${stateRef.current.kind === "conflict" ? "a save that waits for a merge" : "edits not saved yet"}`
        : null,
    );
    return () => {
      cancelled = true;
      untrack();
      removeEventListener("beforeunload", beforeUnload);
      window.clearTimeout(timer.current);
      // Leaving the editor saves what is pending (live edits are on the server already, or
      // sent when it is back).
      if (changed() && stateRef.current.kind !== "conflict") void save();
      v?.destroy();
      live.current?.destroy();
      live.current = null;
    };
  }, [props.page.id]);

  const resolve = (how: "merge" | "theirs" | "mine") => {
    const s = stateRef.current;
    const v = view.current;
    if (s.kind !== "conflict" || !v) return;
    const current = s.current;
    const mine = v.state.doc.toString();
    if (how === "theirs") {
      setText(v, current.markdown);
      setTitle(current.title);
    } else if (how === "merge") {
      const who = current.lastEditor?.name ?? "the other editor";
      const merged = merge3(base.current.markdown, mine, current.markdown, who);
      setText(v, merged.text);
      if (merged.conflict) {
        base.current = { version: current.version, markdown: current.markdown, title: current.title };
        latest.current = current;
        setState({
          kind: "error",
          message: "Both edits changed the same lines: both versions are in the text between <<<<<<< and >>>>>>>. Keep what is right, remove the markers, then save.",
        });
        return;
      }
    }
    base.current = { version: current.version, markdown: current.markdown, title: current.title };
    latest.current = current;
    setState({ kind: "dirty" });
    if (how !== "theirs") void save();
    else setState({ kind: "saved", at: new Date() });
  };

  const tool = (label: string, title: string, run: (v: EditorView) => void) => (
    <button
      type="button"
      class="tool"
      title={title}
      aria-label={title}
      onMouseDown={(e) => e.preventDefault()}
      onClick={() => view.current && run(view.current)}
    >
      {label}
    </button>
  );
  const block = (name: string) => SLASH_ITEMS.find((i) => i.label === name)?.text ?? "";

  const session = live.current;
  void liveState;
  const people = session ? session.people() : [];
  const status = (() => {
    if (session && (state.kind === "saved" || state.kind === "dirty")) {
      if (session.status === "offline") {
        return <span class="save-state error">Offline: your edits are kept here and sync when the server is back</span>;
      }
      if (session.status === "connecting") return <span class="save-state">Connecting…</span>;
      if (session.pending || state.kind === "dirty") return <span class="save-state">Saving…</span>;
      return <span class="save-state saved">Saved</span>;
    }
    switch (state.kind) {
      case "saved":
        return <span class="save-state saved">Saved</span>;
      case "dirty":
        return <span class="save-state">Unsaved changes</span>;
      case "saving":
        return <span class="save-state">Saving…</span>;
      case "error":
        return <span class="save-state error">{state.message}</span>;
      case "conflict":
        return <span class="save-state error">Not saved: changed by someone else</span>;
    }
  })();

  return (
    <div class="editor-screen">
      <div class="editor-head">
        <input
          class="title-input"
          value={title}
          aria-label="Title"
          onInput={(e) => {
            setTitle((e.target as HTMLInputElement).value);
            schedule();
          }}
        />
        <div class="editor-actions">
          {session && (
            <span class="presence" aria-label={`${people.length} ${people.length === 1 ? "person" : "people"} here`}>
              {people.map((p) => (
                <span
                  key={p.client}
                  class="avatar"
                  style={{ background: p.color }}
                  title={session.isMe(p) ? `${p.name} (you)` : p.name}
                >
                  {p.name.slice(0, 1).toUpperCase()}
                </span>
              ))}
              <span class="presence-count">
                {people.length} {people.length === 1 ? "person" : "people"} here
              </span>
            </span>
          )}
          {mode === "starting" && <span class="save-state">Connecting…</span>}
          <span role="status" aria-live="polite">
            {mode !== "starting" && status}
          </span>
          <button
            class="button primary"
            onClick={async () => {
              await save();
              if (stateRef.current.kind !== "saved") return;
              const session = live.current;
              if (session) {
                // Wait for the server to hold our edits, then have it commit them now.
                await session.acked(5000);
                try {
                  props.onDone(await api.settle(props.page.id));
                } catch (e) {
                  setState({ kind: "error", message: (e as Error).message });
                }
                return;
              }
              props.onDone(latest.current);
            }}
          >
            Done
          </button>
        </div>
      </div>
      <input
        class="labels-input"
        value={labels}
        placeholder="Labels, separated by commas"
        aria-label="Labels"
        onInput={(e) => {
          setLabels((e.target as HTMLInputElement).value);
          schedule();
        }}
      />
      {state.kind === "conflict" && (
        <div class="notice conflict" role="alert">
          <p>
            <strong>Changed by {state.current.lastEditor?.name ?? "someone else"}</strong> while you were editing (now
            version {state.current.version}). {state.message}
          </p>
          <div class="row">
            <button class="button primary" onClick={() => resolve("merge")}>
              Merge their changes into mine
            </button>
            <button class="button" onClick={() => resolve("theirs")}>
              Discard mine, take theirs
            </button>
            <button class="button danger" onClick={() => resolve("mine")}>
              Keep mine over theirs
            </button>
            <a class="button" href={href({ name: "history", id: props.page.id })} target="_blank" rel="noopener">
              Compare in history
            </a>
          </div>
        </div>
      )}
      <div class="toolbar" role="toolbar" aria-label="Formatting">
        {tool("B", "Bold (Ctrl+B)", (v) => wrap(v, "**"))}
        {tool("I", "Italic (Ctrl+I)", (v) => wrap(v, "_"))}
        {tool("`", "Inline code", (v) => wrap(v, "`"))}
        {tool("Link", "Link (Ctrl+K)", (v) => link(v))}
        {tool("H2", "Heading", (v) => prefixLines(v, "## "))}
        {tool("•", "Bulleted list", (v) => prefixLines(v, "- "))}
        {tool("☐", "Task list", (v) => prefixLines(v, "- [ ] "))}
        {tool("❝", "Quote", (v) => prefixLines(v, "> "))}
        {tool("ℹ", "Info callout", (v) => insertBlock(v, block("info")))}
        {tool("⚠", "Warning callout", (v) => insertBlock(v, block("warning")))}
        {tool("▦", "Table", (v) => insertBlock(v, block("table")))}
        {tool("◇", "Mermaid diagram", (v) => insertBlock(v, block("mermaid")))}
        {tool("{ }", "Code block", (v) => insertBlock(v, block("code")))}
        {tool("Attach", "Attach a file or image", () => fileInput.current?.click())}
        <input
          ref={fileInput}
          type="file"
          multiple
          hidden
          onChange={(e) => {
            const input = e.target as HTMLInputElement;
            const files = [...(input.files ?? [])];
            input.value = "";
            if (view.current) void upload(files, view.current.state.selection.main.head);
          }}
        />
        <span class="hint">Type / for more</span>
      </div>
      <div class="editor-host" ref={host} />
    </div>
  );
}
