// What the page holds that the server does not have yet: editors with typed text not saved, live
// edits not acknowledged. The desktop app asks `window.cdoUnsaved()` before it restarts into an
// update, and never restarts while the list is not empty.
const sources = new Set<() => string | null>();

/** Registers a source of unsaved work (it returns what is unsaved, or null); returns its removal. */
export function trackUnsaved(source: () => string | null): () => void {
  sources.add(source);
  return () => sources.delete(source);
}

/** Everything unsaved right now, one line each. */
export function unsaved(): string[] {
  return [...sources].map((s) => s()).filter((s): s is string => !!s);
}

declare global {
  interface Window {
    cdoUnsaved?: () => string[];
  }
}
window.cdoUnsaved = unsaved;
