// The space's git sync state beside its name: synced, syncing, offline with commits queued, or
// pages with overlapping edits to resolve; a panel lists them and syncs on demand.
import { useEffect, useState } from "preact/hooks";
import { api, type SyncState } from "./api";
import { href } from "./router";

const POLL_MS = 30_000;

export function SyncBadge(props: { space: string }) {
  const [state, setState] = useState<SyncState | null>(null);
  const [open, setOpen] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let alive = true;
    const load = () =>
      api.syncState(props.space).then(
        (s) => alive && setState(s),
        () => alive && setState(null),
      );
    void load();
    const timer = window.setInterval(load, POLL_MS);
    return () => {
      alive = false;
      window.clearInterval(timer);
    };
  }, [props.space]);

  if (!state || !state.remote) return null;
  const last = state.last;
  const conflicts = state.conflicts.length;
  const [label, kind] = state.running || busy
    ? ["Syncing…", ""]
    : conflicts > 0
      ? [`${conflicts} conflict${conflicts === 1 ? "" : "s"}`, "danger"]
      : state.failure
        ? ["Sync failed", "danger"]
        : last?.error
          ? [`Offline · ${last.queued} to push`, "warn"]
          : last
            ? [`Synced ${new Date(last.at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}`, "ok"]
            : ["Not synced yet", ""];

  const syncNow = async () => {
    setBusy(true);
    setError(null);
    try {
      setState(await api.syncNow(props.space));
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <span class="sync">
      <button class={`sync-badge ${kind}`} aria-expanded={open} onClick={() => setOpen(!open)} title="Git sync">
        {label}
      </button>
      {open && (
        <div class="sync-panel" role="dialog" aria-label="Git sync">
          {last?.error && <p class="notice warning">{last.error}. Your changes are committed here and go out with the next sync.</p>}
          {state.failure && <p class="notice error">{state.failure}</p>}
          {error && <p class="notice error">{error}</p>}
          {conflicts > 0 && (
            <>
              <p>Edits made here and elsewhere overlap in these pages. Both versions are in the page between <code>&lt;&lt;&lt;&lt;&lt;&lt;&lt;</code> and <code>&gt;&gt;&gt;&gt;&gt;&gt;&gt;</code>: keep what is right and remove the markers.</p>
              <ul>
                {state.conflicts.map((c) => (
                  <li key={c.id}>
                    <a href={href({ name: "edit", id: c.id })} onClick={() => setOpen(false)}>
                      {c.title}
                    </a>
                  </li>
                ))}
              </ul>
            </>
          )}
          {last && !last.error && conflicts === 0 && <p>Up to date with the remote as of {new Date(last.at).toLocaleString()}.</p>}
          <button class="button primary" disabled={busy || state.running} onClick={() => void syncNow()}>
            Sync now
          </button>
        </div>
      )}
    </span>
  );
}

/** Whether a page's Markdown holds conflict markers from a merge. */
export function hasConflictMarkers(markdown: string): boolean {
  return /^<{7} /m.test(markdown) && /^>{7} /m.test(markdown);
}
