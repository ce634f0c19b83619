// Search: the Ctrl/Cmd+K quick switcher (results as you type, keyboard only) and the search page
// with filters (space, label) and the mode (hybrid, keyword, semantic).
import { useEffect, useRef, useState } from "preact/hooks";
import { api, type Hit, type SearchResult, snippetRuns, type SpaceEntry } from "./api";
import { AskPanel } from "./ask";
import { go, href } from "./router";

/** A row of mutually exclusive choices (a radio group drawn as buttons). */
export function Segmented(props: { label: string; options: string[]; value: string; onChange: (v: string) => void }) {
  return (
    <div class="segmented" role="radiogroup" aria-label={props.label}>
      {props.options.map((o) => (
        <button
          type="button"
          role="radio"
          aria-checked={props.value === o}
          class={props.value === o ? "on" : ""}
          onClick={() => props.onChange(o)}
        >
          {o}
        </button>
      ))}
    </div>
  );
}

function Snippet(props: { hit: Hit }) {
  const s = props.hit.snippet;
  return (
    <span class="snippet">
      {snippetRuns(s).map((r) => (r.mark ? <mark>{r.text}</mark> : r.text))}
    </span>
  );
}

export function ResultItem(props: { hit: Hit; active?: boolean; id?: string; onPick: () => void }) {
  const { hit } = props;
  return (
    <li
      id={props.id}
      class={`result${props.active ? " active" : ""}`}
      role="option"
      aria-selected={props.active}
      onMouseDown={(e) => e.preventDefault()}
      onClick={props.onPick}
    >
      <div class="result-title">
        {hit.title}
        {hit.snippet.heading && hit.snippet.heading !== hit.title && (
          <span class="result-section"> › {hit.snippet.heading}</span>
        )}
        <span class="result-space">{hit.space}</span>
      </div>
      <Snippet hit={hit} />
    </li>
  );
}

/** Runs the latest query only: an older answer arriving late never replaces a newer one. */
function useSearch(query: string, opts: { mode: string; space?: string; label?: string; limit?: number }) {
  const [result, setResult] = useState<SearchResult | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [elapsed, setElapsed] = useState<number | null>(null);
  useEffect(() => {
    if (!query.trim()) {
      setResult(null);
      setError(null);
      return;
    }
    const ctl = new AbortController();
    const started = performance.now();
    api.search(query, opts, ctl.signal).then(
      (r) => {
        setResult(r);
        setError(null);
        setElapsed(performance.now() - started);
      },
      (e) => {
        if ((e as Error).name !== "AbortError") setError((e as Error).message);
      },
    );
    return () => ctl.abort();
  }, [query, opts.mode, opts.space, opts.label]);
  return { result, error, elapsed };
}

export function QuickSwitcher(props: { onClose: () => void; mode: string }) {
  const [query, setQuery] = useState("");
  const [active, setActive] = useState(0);
  const input = useRef<HTMLInputElement>(null);
  const { result, error } = useSearch(query, { mode: props.mode, limit: 12 });
  const hits = result?.results ?? [];

  useEffect(() => input.current?.focus(), []);
  useEffect(() => setActive(0), [result]);

  const open = (hit: Hit) => {
    props.onClose();
    go({ name: "page", id: hit.id, anchor: hit.snippet.anchor || undefined });
  };

  return (
    <div class="overlay" onMouseDown={props.onClose}>
      <div
        class="switcher"
        role="dialog"
        aria-modal="true"
        aria-label="Find a page"
        onMouseDown={(e) => e.stopPropagation()}
      >
        <input
          ref={input}
          class="switcher-input"
          placeholder="Find a page, or ask: how do we deploy?"
          value={query}
          role="combobox"
          aria-expanded={hits.length > 0}
          aria-controls="switcher-results"
          aria-activedescendant={hits.length ? `switcher-${active}` : undefined}
          onInput={(e) => setQuery((e.target as HTMLInputElement).value)}
          onKeyDown={(e) => {
            if (e.key === "ArrowDown") {
              setActive((a) => Math.min(hits.length - 1, a + 1));
              e.preventDefault();
            } else if (e.key === "ArrowUp") {
              setActive((a) => Math.max(0, a - 1));
              e.preventDefault();
            } else if (e.key === "Enter") {
              if (hits[active]) open(hits[active]);
              else if (query.trim()) {
                props.onClose();
                go({ name: "search", q: query });
              }
              e.preventDefault();
            } else if (e.key === "Escape") {
              props.onClose();
            }
          }}
        />
        {error && <p class="notice error">{error}</p>}
        <ul class="results" id="switcher-results" role="listbox" aria-label="Results">
          {hits.map((hit, i) => (
            <ResultItem hit={hit} id={`switcher-${i}`} active={i === active} onPick={() => open(hit)} />
          ))}
        </ul>
        {query.trim() && result && hits.length === 0 && (
          <p class="muted empty">Nothing matches “{query}”. Try fewer words, or another spelling.</p>
        )}
        <footer class="switcher-foot">
          <span>↑↓ to choose · Enter to open · Esc to close</span>
          {query.trim() && <a href={href({ name: "search", q: query })} onClick={props.onClose}>All results</a>}
        </footer>
      </div>
    </div>
  );
}

export function SearchPage(props: {
  q: string;
  /** A page asked for by a link that no page answers (`confluence-do://page/...`). */
  missing?: string;
  spaces: SpaceEntry[];
  mode: string;
  setMode: (m: string) => void;
}) {
  const [query, setQuery] = useState(props.q);
  const [space, setSpace] = useState("");
  const [label, setLabel] = useState("");
  const [labels, setLabels] = useState<string[]>([]);
  // The question asked (a query ending in "?" is asked when submitted, or with the Ask button).
  const [asked, setAsked] = useState(props.q.trim().endsWith("?") ? props.q : "");
  useEffect(() => {
    setQuery(props.q);
    if (props.q.trim().endsWith("?")) setAsked(props.q);
  }, [props.q]);
  useEffect(() => {
    if (!space) return setLabels([]);
    api.labels(space).then((l) => setLabels(l.map((x) => x.name)), () => setLabels([]));
  }, [space]);
  const { result, error, elapsed } = useSearch(query, { mode: props.mode, space, label, limit: 30 });
  const semantic = result?.semantic;
  return (
    <div class="search-page">
      <h1>Search</h1>
      {props.missing && (
        <div class="notice warning no-such-page" role="status">
          <strong>No such page:</strong> {props.missing}. It may have been renamed, moved or deleted; pages like it are
          below.
        </div>
      )}
      <form
        class="search-form"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          go({ name: "search", q: query });
        }}
      >
        <input
          class="search-input"
          type="search"
          value={query}
          aria-label="Search"
          placeholder='Words, "phrases", -exclude, label:adr, title:deploy'
          onInput={(e) => setQuery((e.target as HTMLInputElement).value)}
        />
        <select aria-label="Space" value={space} onChange={(e) => setSpace((e.target as HTMLSelectElement).value)}>
          <option value="">All spaces</option>
          {props.spaces.map((s) => (
            <option value={s.key}>{s.name}</option>
          ))}
        </select>
        <select aria-label="Label" value={label} onChange={(e) => setLabel((e.target as HTMLSelectElement).value)}>
          <option value="">Any label</option>
          {labels.map((l) => (
            <option value={l}>{l}</option>
          ))}
        </select>
        <Segmented label="Mode" options={["hybrid", "keyword", "semantic"]} value={props.mode} onChange={props.setMode} />
        <button type="button" class="button primary" disabled={!query.trim()} onClick={() => setAsked(query)}>
          Ask
        </button>
      </form>
      {asked && <AskPanel q={asked} space={space || undefined} />}
      {error && <p class="notice error">{error}</p>}
      {semantic?.hint && <p class="notice">Searching by words only: {semantic.hint}</p>}
      {semantic?.used && (semantic.pending ?? 0) > 0 && (
        <p class="muted">
          Understanding pages: {(semantic.total ?? 0) - (semantic.pending ?? 0)} of {semantic.total} passages so far.
        </p>
      )}
      {result && (
        <p class="muted">
          {result.results.length} result{result.results.length === 1 ? "" : "s"}
          {elapsed !== null && ` in ${Math.round(elapsed)} ms`}
        </p>
      )}
      <ul class="results wide" role="listbox" aria-label="Results">
        {(result?.results ?? []).map((hit) => (
          <ResultItem hit={hit} onPick={() => go({ name: "page", id: hit.id, anchor: hit.snippet.anchor || undefined })} />
        ))}
      </ul>
    </div>
  );
}
