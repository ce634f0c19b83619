// The app shell: top bar (space switcher, search, new page, settings), the page tree sidebar and
// the main screen for the current route.
import { render } from "preact";
import { useCallback, useEffect, useState } from "preact/hooks";
import { api, ApiError, type Me, type Page, type SpaceEntry, type TreeNode } from "./api";
import { SyncBadge } from "./sync-badge";
import { go, href, parse, useRoute } from "./router";
import { CreateScreen, HistoryScreen, Settings } from "./screens";
import { QuickSwitcher, SearchPage } from "./search";
import { Tree, type Drop } from "./tree";
import { PageView } from "./view";
import "./styles.css";
import "./unsaved";

const stored = (k: string, d: string) => localStorage.getItem(`cdo.${k}`) ?? d;

function useTheme() {
  const [theme, setTheme] = useState(() => stored("theme", "system"));
  const [systemDark, setSystemDark] = useState(() => matchMedia("(prefers-color-scheme: dark)").matches);
  useEffect(() => {
    const mq = matchMedia("(prefers-color-scheme: dark)");
    const on = () => setSystemDark(mq.matches);
    mq.addEventListener("change", on);
    return () => mq.removeEventListener("change", on);
  }, []);
  const dark = theme === "dark" || (theme === "system" && systemDark);
  useEffect(() => {
    document.documentElement.dataset.theme = dark ? "dark" : "light";
    localStorage.setItem("cdo.theme", theme);
  }, [theme, dark]);
  return { theme, setTheme, dark };
}

function SignIn(props: { onDone: (me: Me) => void }) {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  return (
    <form
      class="signin"
      onSubmit={async (e) => {
        e.preventDefault();
        try {
          await api.login(email, password);
          props.onDone(await api.me());
        } catch (err) {
          setError((err as Error).message);
        }
      }}
    >
      <h1>Sign in to confluence.do</h1>
      <div class="form-row">
        <label for="email">E-mail</label>
        <input id="email" type="email" autocomplete="username" required value={email} onInput={(e) => setEmail((e.target as HTMLInputElement).value)} />
      </div>
      <div class="form-row">
        <label for="password">Password or API token</label>
        <input id="password" type="password" autocomplete="current-password" required value={password} onInput={(e) => setPassword((e.target as HTMLInputElement).value)} />
      </div>
      {error && <p class="notice error" role="alert">{error}</p>}
      <button class="button primary" type="submit">
        Sign in
      </button>
    </form>
  );
}

function App() {
  const route = useRoute();
  const { theme, setTheme, dark } = useTheme();
  const [me, setMe] = useState<Me | null>(null);
  const [needsLogin, setNeedsLogin] = useState(false);
  const [spaces, setSpaces] = useState<SpaceEntry[]>([]);
  // A link to a space opens that space's tree first, not the last one used.
  const [space, setSpace] = useState<string>(() => {
    const first = parse(location.hash);
    if (first.name === "space") return first.key.toUpperCase();
    if (first.name === "new" && first.space) return first.space.toUpperCase();
    return stored("space", "");
  });
  const [tree, setTree] = useState<TreeNode[]>([]);
  const [page, setPage] = useState<Page | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [switcher, setSwitcher] = useState(false);
  const [mode, setModeState] = useState(() => stored("mode", "hybrid"));
  // Wide windows show the tree beside the page; narrow ones (or 200% zoom) open it on demand.
  const narrow = () => matchMedia("(max-width: 900px)").matches;
  const [sidebar, setSidebar] = useState(() => !narrow());
  useEffect(() => {
    const mq = matchMedia("(max-width: 900px)");
    const on = () => setSidebar(!mq.matches);
    mq.addEventListener("change", on);
    return () => mq.removeEventListener("change", on);
  }, []);
  const setMode = (m: string) => {
    setModeState(m);
    localStorage.setItem("cdo.mode", m);
  };

  const fail = (e: unknown) => {
    if (e instanceof ApiError && e.status === 401) setNeedsLogin(true);
    else setError((e as Error).message);
  };

  const loadSpaces = useCallback(() => {
    api.spaces().then((list) => {
      setSpaces(list);
      setSpace((current) => (list.some((s) => s.key === current) ? current : (list[0]?.key ?? "")));
    }, fail);
  }, []);

  useEffect(() => {
    api.me().then(
      (m) => {
        setMe(m);
        if (m.authRequired && !m.signedIn) setNeedsLogin(true);
        else loadSpaces();
      },
      fail,
    );
  }, []);

  const loadTree = useCallback((key: string) => {
    if (!key) return;
    api.tree(key).then(setTree, fail);
  }, []);
  useEffect(() => {
    if (space) {
      localStorage.setItem("cdo.space", space);
      loadTree(space);
    }
  }, [space]);

  // The page of the route, and its space becomes the current one.
  const pageId = route.name === "page" || route.name === "edit" || route.name === "history" ? route.id : null;
  useEffect(() => {
    if (!pageId) {
      setPage(null);
      return;
    }
    let live = true;
    setError(null);
    api.page(pageId).then(
      (p) => {
        if (!live) return;
        setPage(p);
        if (p.space !== space) setSpace(p.space);
      },
      (e) => live && fail(e),
    );
    return () => {
      live = false;
    };
  }, [pageId]);

  useEffect(() => {
    if (route.name === "space") setSpace(route.key.toUpperCase());
    if (route.name === "new" && route.space) setSpace(route.space.toUpperCase());
  }, [route]);

  // The space's home: its first page.
  useEffect(() => {
    if ((route.name === "home" || route.name === "space") && tree.length && !needsLogin) {
      const key = route.name === "space" ? route.key.toUpperCase() : space;
      if (key === space) go({ name: "page", id: tree[0].id });
    }
  }, [route, tree]);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const target = e.target as HTMLElement;
      const typing = target.closest("input, textarea, select, .cm-editor, [contenteditable]");
      if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "k" && !target.closest(".cm-editor")) {
        e.preventDefault();
        setSwitcher(true);
      } else if (!typing && e.key === "/" ) {
        e.preventDefault();
        setSwitcher(true);
      } else if (!typing && e.key === "e" && route.name === "page") {
        e.preventDefault();
        go({ name: "edit", id: route.id });
      } else if (!typing && e.key === "\\") {
        setSidebar((s) => !s);
      }
    };
    addEventListener("keydown", onKey);
    // Commands from outside the page: the desktop app's native menu.
    const onCommand = (e: Event) => {
      switch ((e as CustomEvent<string>).detail) {
        case "search":
          setSwitcher(true);
          break;
        case "toggle-tree":
          setSidebar((s) => !s);
          break;
        case "new-page":
          go({ name: "new", space, parent: undefined });
          break;
        case "settings":
          go({ name: "settings" });
          break;
      }
    };
    addEventListener("cdo:command", onCommand);
    return () => {
      removeEventListener("keydown", onKey);
      removeEventListener("cdo:command", onCommand);
    };
  }, [route, space]);

  const onMove = async (drop: Drop) => {
    try {
      await api.movePage(drop.id, drop.parent, drop.position);
      loadTree(space);
    } catch (e) {
      setError((e as Error).message);
      loadTree(space);
    }
  };

  if (needsLogin)
    return (
      <SignIn
        onDone={(m) => {
          setMe(m);
          setNeedsLogin(false);
          loadSpaces();
        }}
      />
    );

  let main;
  switch (route.name) {
    case "page":
      main = page && page.id === route.id ? <PageView page={page} anchor={route.anchor} dark={dark} /> : <Loading />;
      break;
    case "edit":
      main =
        page && page.id === route.id ? (
          <LazyEditor
            page={page}
            me={me ?? undefined}
            onSaved={(p) => {
              if (p.title !== page.title) loadTree(p.space);
            }}
            onDone={(p) => {
              setPage(p);
              go({ name: "page", id: p.id });
            }}
          />
        ) : (
          <Loading />
        );
      break;
    case "history":
      main =
        page && page.id === route.id ? (
          <HistoryScreen
            page={page}
            onRestored={(p) => {
              setPage(p);
              go({ name: "page", id: p.id });
            }}
          />
        ) : (
          <Loading />
        );
      break;
    case "new":
      main = (
        <CreateScreen
          space={route.space || space}
          parent={route.parent}
          onCreated={(p) => {
            loadTree(p.space);
            setPage(p);
            go({ name: "edit", id: p.id });
          }}
        />
      );
      break;
    case "search":
      main = <SearchPage q={route.q} missing={route.missing} spaces={spaces} mode={mode} setMode={setMode} />;
      break;
    case "settings":
      main = <Settings me={me} spaces={spaces} theme={theme} setTheme={setTheme} onSpaces={loadSpaces} />;
      break;
    default:
      main = spaces.length ? (
        <Loading />
      ) : (
        <div class="welcome">
          <h1>Welcome to confluence.do</h1>
          <p>
            A space is a folder of Markdown pages in git. Start with the demo, an Engineering space with architecture
            pages, decisions, a deployment guide and a runbook, or create your own.
          </p>
          <div class="row">
            <button
              class="button primary"
              onClick={() =>
                api.installDemo().then((s) => {
                  loadSpaces();
                  go({ name: "space", key: s.key });
                }, fail)
              }
            >
              Open the demo space
            </button>
            <a class="button" href={href({ name: "settings" })}>
              Create a space
            </a>
          </div>
          <p class="muted small">
            Pages you already have (a project's docs/ folder, an Obsidian vault) open as they are: File › Open Space
            Folder in the desktop app, or <code>confluence-do space add PATH</code>.
          </p>
        </div>
      );
  }

  const current = spaces.find((s) => s.key === space);
  return (
    <div class={`shell${sidebar ? "" : " no-sidebar"}`}>
      <a class="skip" href="#main" onClick={(e) => (e.preventDefault(), document.getElementById("main")?.focus())}>
        Skip to content
      </a>
      <header class="topbar">
        <button class="icon-button" aria-label="Toggle the page tree (\)" title="Toggle the page tree (\)" onClick={() => setSidebar(!sidebar)}>
          ☰
        </button>
        <a class="brand" href={href({ name: "home" })}>
          confluence<span>.do</span>
        </a>
        <select
          class="space-switcher"
          aria-label="Space"
          value={space}
          onChange={(e) => {
            const key = (e.target as HTMLSelectElement).value;
            setSpace(key);
            go({ name: "space", key });
          }}
        >
          {spaces.map((s) => (
            <option value={s.key}>
              {s.name} ({s.key})
            </option>
          ))}
        </select>
        <button class="search-box" onClick={() => setSwitcher(true)} aria-label="Search (Ctrl+K)">
          <span>Search or ask…</span>
          <kbd>Ctrl K</kbd>
        </button>
        <div class="topbar-end">
          {space && (
            <a class="button primary" href={href({ name: "new", space, parent: page?.space === space ? (page?.parent ?? undefined) : undefined })}>
              + New page
            </a>
          )}
          <a class="icon-button" href={href({ name: "settings" })} aria-label="Settings" title="Settings">
            ⚙
          </a>
          {me && <span class="avatar" title={`${me.name} <${me.email}>`} aria-label={`Signed in as ${me.name}`}>{initials(me.name)}</span>}
        </div>
      </header>
      {sidebar && (
        <nav class="sidebar" aria-label={`Pages of ${current?.name ?? space}`}>
          <div class="sidebar-head">
            <strong>{current?.name ?? space}</strong>
            {space && <SyncBadge space={space} />}
            {space && (
              <a class="icon-button small" href={href({ name: "new", space })} aria-label="New top-level page" title="New top-level page">
                +
              </a>
            )}
          </div>
          <Tree
            tree={tree}
            current={pageId ?? undefined}
            onOpen={(id) => {
              if (narrow()) setSidebar(false);
              go({ name: "page", id });
            }}
            onNewChild={(parent) => go({ name: "new", space, parent: parent ?? undefined })}
            onMove={onMove}
          />
        </nav>
      )}
      <main class="main" id="main" tabIndex={-1}>
        {error && (
          <div class="notice error" role="alert">
            {error}
            <button class="link" onClick={() => setError(null)}>
              Dismiss
            </button>
          </div>
        )}
        {main}
      </main>
      {switcher && <QuickSwitcher mode={mode} onClose={() => setSwitcher(false)} />}
    </div>
  );
}

/** The editor (CodeMirror and the merge code) loads on first use, keeping the reading path lean. */
function LazyEditor(props: Parameters<typeof import("./edit").Editor>[0]) {
  const [mod, setMod] = useState<typeof import("./edit") | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    import("./edit").then(setMod, (e) => setError(`The editor did not load (${(e as Error).message}). Reload the page.`));
  }, []);
  if (error) return <p class="notice error">{error}</p>;
  return mod ? <mod.Editor {...props} /> : <Loading />;
}

function Loading() {
  return <div class="loading" aria-busy="true">Loading…</div>;
}

function initials(name: string) {
  return name
    .split(/\s+/)
    .filter(Boolean)
    .slice(0, 2)
    .map((w) => w[0]?.toUpperCase())
    .join("");
}

render(<App />, document.getElementById("app")!);
