// A page as readers see it: the server's sanitised HTML, with mermaid diagrams drawn, code
// highlighted, links between pages followed inside the app, and attachments served by the API.
import { useEffect, useRef, useState } from "preact/hooks";
import { ago, api, type Freshness, type Hit, type Page } from "./api";
import { go, href } from "./router";
import { hasConflictMarkers } from "./sync-badge";

let mermaidId = 0;

async function drawDiagrams(root: HTMLElement, dark: boolean) {
  const blocks = [...root.querySelectorAll<HTMLElement>("pre.mermaid")];
  if (!blocks.length) return;
  const { default: mermaid } = await import("mermaid");
  mermaid.initialize({ startOnLoad: false, securityLevel: "strict", theme: dark ? "dark" : "default" });
  for (const block of blocks) {
    const source = block.textContent ?? "";
    const figure = document.createElement("figure");
    figure.className = "diagram";
    try {
      const { svg } = await mermaid.render(`mermaid-${++mermaidId}`, source);
      figure.innerHTML = svg;
    } catch (e) {
      figure.className = "diagram diagram-error";
      figure.textContent = `This diagram has an error: ${(e as Error).message ?? e}. Edit the mermaid block to fix it.`;
      const pre = document.createElement("pre");
      pre.textContent = source;
      figure.append(pre);
    }
    block.replaceWith(figure);
  }
}

async function highlightCode(root: HTMLElement) {
  const blocks = [...root.querySelectorAll<HTMLElement>("pre code[class*='language-']")];
  if (!blocks.length) return;
  const { default: hljs } = await import("./highlight");
  for (const code of blocks) {
    const lang = [...code.classList].find((c) => c.startsWith("language-"))?.slice(9);
    if (lang && hljs.getLanguage(lang)) hljs.highlightElement(code);
  }
}

/** Points relative images and file links at the API's attachment download
 * (`guide.attachments/x.png`): the page's own attachments. */
function fixAttachments(root: HTMLElement, page: Page) {
  const download = (ref: string) => {
    if (/^[a-z]+:|^\/\/|^#/i.test(ref)) return null;
    let decoded = ref;
    try {
      decoded = decodeURIComponent(ref);
    } catch {
      // Keep it as written.
    }
    const m = decoded.match(/\.attachments\/([^/]+)$/);
    return m ? `/api/v1/pages/${encodeURIComponent(page.id)}/attachments/${encodeURIComponent(m[1])}` : null;
  };
  for (const img of root.querySelectorAll<HTMLImageElement>("img")) {
    const url = download(img.getAttribute("src") ?? "");
    if (url) img.src = url;
    img.loading = "lazy";
  }
  for (const a of root.querySelectorAll<HTMLAnchorElement>("a[href]")) {
    const url = download(a.getAttribute("href") ?? "");
    if (url) a.href = url;
  }
}

function follow(e: MouseEvent, page: Page) {
  const a = (e.target as HTMLElement).closest("a");
  if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey) return;
  const raw = a.getAttribute("href") ?? "";
  if (raw.startsWith("#")) {
    e.preventDefault();
    document.getElementById(decodeURIComponent(raw.slice(1)))?.scrollIntoView({ behavior: "smooth" });
    return;
  }
  const [target, anchor] = raw.split("#");
  let decoded = target;
  try {
    decoded = decodeURIComponent(target);
  } catch {
    // Keep it as written.
  }
  const id = page.links[raw] ?? page.links[target] ?? page.links[decoded];
  if (id) {
    e.preventDefault();
    go({ name: "page", id, anchor });
    return;
  }
  if (/^(https?:|mailto:)/i.test(raw)) {
    a.target = "_blank";
    a.rel = "noopener noreferrer";
  }
}

export function PageView(props: { page: Page; anchor?: string; dark: boolean }) {
  const { page } = props;
  const body = useRef<HTMLDivElement>(null);
  const [backlinks, setBacklinks] = useState<{ id: string; title: string }[]>([]);
  const [related, setRelated] = useState<Hit[]>([]);
  const [fresh, setFresh] = useState<Freshness | null>(null);

  useEffect(() => {
    const el = body.current;
    if (!el) return;
    el.innerHTML = page.html;
    // Pages usually open with their title as a heading: the page header shows it already.
    const first = el.firstElementChild;
    if (first?.tagName === "H1" && first.textContent?.trim() === page.title.trim()) first.classList.add("same-as-title");
    fixAttachments(el, page);
    void drawDiagrams(el, props.dark);
    void highlightCode(el);
    if (props.anchor) document.getElementById(props.anchor)?.scrollIntoView();
    else el.closest(".main")?.scrollTo(0, 0);
  }, [page.html, page.id, props.dark]);

  useEffect(() => {
    let live = true;
    api.backlinks(page.id).then((b) => live && setBacklinks(b), () => live && setBacklinks([]));
    api.related(page.id).then((r) => live && setRelated(r), () => live && setRelated([]));
    api.freshness(page.id).then((f) => live && setFresh(f), () => live && setFresh(null));
    return () => {
      live = false;
    };
  }, [page.id, page.version]);

  return (
    <div class="page-layout">
      <article class="page">
        <nav class="breadcrumbs" aria-label="Breadcrumbs">
          <a href={href({ name: "space", key: page.space })}>{page.space}</a>
          {page.breadcrumbs
            .filter((b) => b.id !== page.id)
            .map((b) => (
              <>
                <span aria-hidden="true"> / </span>
                <a href={href({ name: "page", id: b.id })}>{b.title}</a>
              </>
            ))}
        </nav>
        <header class="page-head">
          <h1 class="page-title">{page.title}</h1>
          <div class="page-actions">
            <a class="button primary" href={href({ name: "edit", id: page.id })} title="Edit (E)">
              Edit
            </a>
            <a class="button" href={href({ name: "history", id: page.id })}>
              History
            </a>
            <a class="button" href={href({ name: "new", space: page.space, parent: page.id })}>
              New child
            </a>
            <PageMenu page={page} />
          </div>
        </header>
        <div class="page-meta">
          {page.lastEditor && (
            <span>
              Last edited by <strong>{page.lastEditor.name}</strong> {ago(page.updated)}
            </span>
          )}
          <span> · version {page.version}</span>
          {fresh && (
            <span
              class={`fresh-badge ${fresh.status}`}
              title={`Checked ${ago(fresh.lastVerified)}; confidence ${Math.round(fresh.confidence * 100)}%`}
            >
              {fresh.status === "fresh" ? "Fresh" : fresh.status === "stale" ? "May be out of date" : "Broken"}
              {fresh.issues.length > 0 && ` (${fresh.issues.length})`}
            </span>
          )}
          {page.labels.length > 0 && (
            <span class="labels">
              {page.labels.map((l) => (
                <a class="label" href={href({ name: "search", q: `label:${l}` })}>
                  {l}
                </a>
              ))}
            </span>
          )}
        </div>
        {hasConflictMarkers(page.markdown) && (
          <div class="notice conflict" role="status">
            <strong>Overlapping edits.</strong> This page was changed here and elsewhere in the same place; both versions
            are in it between <code>&lt;&lt;&lt;&lt;&lt;&lt;&lt;</code> and <code>&gt;&gt;&gt;&gt;&gt;&gt;&gt;</code>.{" "}
            <a href={href({ name: "edit", id: page.id })}>Edit the page</a> to keep what is right.
          </div>
        )}
        {page.diagnostics.length > 0 && (
          <div class="notice warning" role="status">
            {page.diagnostics.map((d) => (
              <div>{d}</div>
            ))}
          </div>
        )}
        <div class="markdown-body" ref={body} onClick={(e) => follow(e, page)} />
      </article>
      <aside class="page-side" aria-label="About this page">
        {page.headings.length > 1 && (
          <section>
            <h2>On this page</h2>
            <ul class="toc">
              {page.headings.map((h) => (
                <li style={{ paddingLeft: (h.level - 1) * 10 }}>
                  <a
                    href={`#${h.anchor}`}
                    onClick={(e) => {
                      e.preventDefault();
                      document.getElementById(h.anchor)?.scrollIntoView({ behavior: "smooth" });
                    }}
                  >
                    {h.text}
                  </a>
                </li>
              ))}
            </ul>
          </section>
        )}
        {fresh && fresh.issues.length > 0 && (
          <section class="fresh-issues">
            <h2>Freshness</h2>
            <ul>
              {fresh.issues.map((i) => (
                <li class={i.type}>
                  <strong>{i.type.replace("_", " ")}</strong>
                  {i.section && <span class="muted"> in {i.section}</span>}: {i.detail}
                  {i.suggestion && <div class="muted">Suggestion: {i.suggestion}</div>}
                </li>
              ))}
            </ul>
          </section>
        )}
        <section>
          <h2>Linked from</h2>
          {backlinks.length ? (
            <ul class="links">
              {backlinks.map((b) => (
                <li>
                  <a href={href({ name: "page", id: b.id })}>{b.title}</a>
                </li>
              ))}
            </ul>
          ) : (
            <p class="muted">No page links here yet.</p>
          )}
        </section>
        {related.length > 0 && (
          <section>
            <h2>Related</h2>
            <ul class="links">
              {related.map((r) => (
                <li>
                  <a href={href({ name: "page", id: r.id })}>{r.title}</a>
                </li>
              ))}
            </ul>
          </section>
        )}
      </aside>
    </div>
  );
}

/** The address that opens a page in the desktop app, from anywhere (a chat, a terminal, another page). */
export function appLink(id: string): string {
  return `confluence-do://page/${encodeURIComponent(id)}`;
}

async function copyText(text: string): Promise<void> {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    // No async clipboard (an insecure origin, an older webview): a selection and the copy command.
    const area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    const ok = document.execCommand("copy");
    area.remove();
    if (!ok) throw new Error("the clipboard is not available here");
  }
}

/** The page's "⋯" menu: links to the page. */
function PageMenu(props: { page: Page }) {
  const [said, setSaid] = useState("");
  const menu = useRef<HTMLDetailsElement>(null);
  const copy = (text: string, what: string) => {
    copyText(text).then(
      () => setSaid(`${what} copied`),
      (e) => setSaid(`Could not copy: ${(e as Error).message}. The link is ${text}`),
    );
    if (menu.current) menu.current.open = false;
  };
  useEffect(() => {
    if (!said) return;
    const t = window.setTimeout(() => setSaid(""), 4000);
    return () => window.clearTimeout(t);
  }, [said]);
  const web = `${location.origin}/${href({ name: "page", id: props.page.id })}`;
  return (
    <>
      <details class="page-menu" ref={menu}>
        <summary class="button" aria-label="More actions" title="More actions">
          ⋯
        </summary>
        <div class="page-menu-items" role="menu">
          <button type="button" role="menuitem" class="copy-link" onClick={() => copy(appLink(props.page.id), "Link")}>
            Copy link
            <small>{appLink(props.page.id)}: opens the page in the desktop app</small>
          </button>
          <button type="button" role="menuitem" onClick={() => copy(web, "Web address")}>
            Copy web address
            <small>for a browser on this server</small>
          </button>
        </div>
      </details>
      {said && (
        <span class="copied" role="status">
          {said}
        </span>
      )}
    </>
  );
}
