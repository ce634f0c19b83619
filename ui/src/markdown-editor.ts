// CodeMirror 6 on the Markdown source, styled so headings, emphasis, links, lists, code and
// callouts look like the result while you type. The document is plain CodeMirror state: the
// co-editing layer binds it to a shared Y.Text through the `collab` compartment.
import { autocompletion, type Completion, type CompletionContext } from "@codemirror/autocomplete";
import { defaultKeymap, history, historyKeymap, indentWithTab } from "@codemirror/commands";
import { markdown, markdownLanguage } from "@codemirror/lang-markdown";
import { HighlightStyle, syntaxHighlighting } from "@codemirror/language";
import { highlightSelectionMatches, searchKeymap } from "@codemirror/search";
import { Compartment, EditorState, RangeSetBuilder, type Extension } from "@codemirror/state";
import {
  Decoration,
  type DecorationSet,
  drawSelection,
  EditorView,
  keymap,
  placeholder,
  ViewPlugin,
  type ViewUpdate,
} from "@codemirror/view";
import { tags as t } from "@lezer/highlight";

const looks = HighlightStyle.define([
  { tag: t.heading1, fontSize: "1.6em", fontWeight: "700" },
  { tag: t.heading2, fontSize: "1.35em", fontWeight: "700" },
  { tag: t.heading3, fontSize: "1.15em", fontWeight: "700" },
  { tag: [t.heading4, t.heading5, t.heading6], fontWeight: "700" },
  { tag: t.strong, fontWeight: "700" },
  { tag: t.emphasis, fontStyle: "italic" },
  { tag: t.strikethrough, textDecoration: "line-through" },
  { tag: t.link, color: "var(--link)", textDecoration: "underline" },
  { tag: t.url, color: "var(--muted)" },
  { tag: t.monospace, fontFamily: "var(--mono)", background: "var(--code-bg)", borderRadius: "3px" },
  { tag: t.quote, color: "var(--muted)", fontStyle: "italic" },
  { tag: [t.processingInstruction, t.meta], color: "var(--muted)" },
  { tag: t.list, color: "var(--accent)" },
  { tag: t.contentSeparator, color: "var(--muted)" },
]);

const CALLOUT = /^\s*(> \[!(note|tip|important|warning|caution)\]|\{%\s*(info|note|tip|success|warning|danger|caution|important|panel)\b)/i;
const FENCE = /^\s*(```|~~~)/;

/** Line classes: callout openers get their colour, fenced code lines a code background. */
const lines = ViewPlugin.fromClass(
  class {
    decorations: DecorationSet;
    constructor(view: EditorView) {
      this.decorations = this.build(view);
    }
    update(u: ViewUpdate) {
      if (u.docChanged || u.viewportChanged) this.decorations = this.build(u.view);
    }
    build(view: EditorView) {
      const b = new RangeSetBuilder<Decoration>();
      const doc = view.state.doc;
      // Fences are tracked from the top so a block that starts above the viewport is known.
      let inFence = false;
      const from = view.viewport.from;
      const to = view.viewport.to;
      for (let n = 1; n <= doc.lines; n++) {
        const line = doc.line(n);
        if (line.from > to) break;
        const fence = FENCE.test(line.text);
        const visible = line.to >= from;
        if (visible) {
          const m = line.text.match(CALLOUT);
          if (inFence || fence) b.add(line.from, line.from, Decoration.line({ class: "cm-code-line" }));
          else if (m) {
            const kind = (m[2] ?? m[3] ?? "note").toLowerCase();
            b.add(line.from, line.from, Decoration.line({ class: `cm-callout cm-callout-${kind}` }));
          } else if (/^\s*>/.test(line.text)) b.add(line.from, line.from, Decoration.line({ class: "cm-quote-line" }));
        }
        if (fence) inFence = !inFence;
      }
      return b.finish();
    }
  },
  { decorations: (v) => v.decorations },
);

export interface SlashItem {
  label: string;
  detail: string;
  text: string;
}

export const SLASH_ITEMS: SlashItem[] = [
  { label: "info", detail: "Info callout", text: "{% info %}\nWrite the note here.\n{% /info %}\n" },
  { label: "warning", detail: "Warning callout", text: "{% warning %}\nWhat to watch out for.\n{% /warning %}\n" },
  { label: "danger", detail: "Danger callout", text: "{% danger %}\nWhat must never happen.\n{% /danger %}\n" },
  { label: "success", detail: "Success callout", text: "{% success %}\nWhat went well.\n{% /success %}\n" },
  { label: "note", detail: "GitHub note", text: "> [!NOTE]\n> Useful information.\n" },
  { label: "mermaid", detail: "Diagram (mermaid)", text: "```mermaid\nflowchart LR\n  A[Start] --> B[Done]\n```\n" },
  { label: "code", detail: "Code block", text: "```bash\n\n```\n" },
  { label: "table", detail: "Table", text: "| Column | Column |\n|---|---|\n| Cell | Cell |\n" },
  { label: "tasks", detail: "Task list", text: "- [ ] First task\n- [ ] Second task\n" },
  { label: "heading", detail: "Section heading", text: "## Heading\n" },
  { label: "field", detail: "Template field", text: "{field_name}" },
  { label: "toc", detail: "Table of contents", text: "{% toc %}\n" },
  { label: "children", detail: "Child pages", text: "{% children %}\n" },
];

function slash(ctx: CompletionContext) {
  const word = ctx.matchBefore(/(^|\s)\/[\w-]*$/);
  if (!word) return null;
  const start = word.text.startsWith("/") ? word.from : word.from + 1;
  const options: Completion[] = SLASH_ITEMS.map((item) => ({
    label: `/${item.label}`,
    detail: item.detail,
    apply: (view, _c, from, to) => {
      view.dispatch({ changes: { from, to, insert: item.text }, selection: { anchor: from + item.text.length } });
    },
  }));
  return { from: start, options, validFor: /^\/[\w-]*$/ };
}

export interface EditorHooks {
  onChange: (text: string) => void;
  onSave: () => void;
  onFiles: (files: File[], at: number) => void;
}

/** The compartment the co-editing binding reconfigures. */
export const collab = new Compartment();

/**
 * An editor on `text`. With `live` (the co-editing binding, which brings its own undo), the
 * local undo history is left out.
 */
export function createEditor(parent: HTMLElement, text: string, hooks: EditorHooks, live?: Extension): EditorView {
  const filesOf = (list: FileList | null | undefined) => [...(list ?? [])].filter((f) => f.size > 0);
  const extensions: Extension[] = [
    live ? [] : history(),
    drawSelection(),
    EditorView.lineWrapping,
    markdown({ base: markdownLanguage }),
    syntaxHighlighting(looks),
    lines,
    highlightSelectionMatches(),
    autocompletion({ override: [slash], icons: false }),
    placeholder("Write in Markdown. Type / for callouts, diagrams, tables and more."),
    keymap.of([
      { key: "Mod-s", preventDefault: true, run: () => (hooks.onSave(), true) },
      { key: "Mod-b", run: (v) => wrap(v, "**") },
      { key: "Mod-i", run: (v) => wrap(v, "_") },
      { key: "Mod-k", run: (v) => link(v) },
      ...defaultKeymap,
      ...(live ? [] : historyKeymap),
      ...searchKeymap,
      indentWithTab,
    ]),
    EditorView.updateListener.of((u) => {
      if (u.docChanged) hooks.onChange(u.state.doc.toString());
    }),
    EditorView.domEventHandlers({
      paste(e, view) {
        const files = filesOf(e.clipboardData?.files);
        if (!files.length) return false;
        e.preventDefault();
        hooks.onFiles(files, view.state.selection.main.head);
        return true;
      },
      drop(e, view) {
        const files = filesOf(e.dataTransfer?.files);
        if (!files.length) return false;
        e.preventDefault();
        const at = view.posAtCoords({ x: e.clientX, y: e.clientY }) ?? view.state.selection.main.head;
        hooks.onFiles(files, at);
        return true;
      },
    }),
    EditorView.contentAttributes.of({ "aria-label": "Page source (Markdown)" }),
    collab.of(live ?? []),
  ];
  return new EditorView({ parent, state: EditorState.create({ doc: text, extensions }) });
}

/** Wraps the selection in `mark` (or unwraps it). */
export function wrap(view: EditorView, mark: string, after = mark): boolean {
  const { from, to } = view.state.selection.main;
  const text = view.state.sliceDoc(from, to);
  const before = view.state.sliceDoc(from - mark.length, from);
  const next = view.state.sliceDoc(to, to + after.length);
  if (before === mark && next === after) {
    view.dispatch({
      changes: [
        { from: from - mark.length, to: from, insert: "" },
        { from: to, to: to + after.length, insert: "" },
      ],
      selection: { anchor: from - mark.length, head: to - mark.length },
    });
  } else {
    view.dispatch({
      changes: { from, to, insert: mark + text + after },
      selection: { anchor: from + mark.length, head: to + mark.length },
    });
  }
  view.focus();
  return true;
}

export function link(view: EditorView): boolean {
  const { from, to } = view.state.selection.main;
  const text = view.state.sliceDoc(from, to) || "link text";
  const insert = `[${text}](https://)`;
  view.dispatch({
    changes: { from, to, insert },
    selection: { anchor: from + text.length + 3, head: from + insert.length - 1 },
  });
  view.focus();
  return true;
}

/** Puts `prefix` at the start of every selected line (or removes it when all have it). */
export function prefixLines(view: EditorView, prefix: string): boolean {
  const { state } = view;
  const { from, to } = state.selection.main;
  const first = state.doc.lineAt(from).number;
  const last = state.doc.lineAt(to).number;
  const all = [];
  for (let n = first; n <= last; n++) all.push(state.doc.line(n));
  const has = all.every((l) => l.text.startsWith(prefix));
  view.dispatch({
    changes: all.map((l) => (has ? { from: l.from, to: l.from + prefix.length } : { from: l.from, insert: prefix })),
  });
  view.focus();
  return true;
}

/** Inserts a block on its own lines at the cursor. */
export function insertBlock(view: EditorView, text: string, at = view.state.selection.main.head): void {
  const line = view.state.doc.lineAt(at);
  const lead = line.text.trim() === "" ? "" : "\n\n";
  const pos = line.text.trim() === "" ? line.from : line.to;
  view.dispatch({ changes: { from: pos, insert: lead + text }, selection: { anchor: pos + lead.length + text.length } });
  view.focus();
}

export function setText(view: EditorView, text: string): void {
  view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } });
}
