// History (versions, a word-level diff between any two, restore), creating a page (blank or from
// a template, with a form built from the template's typed fields) and settings.
import { useEffect, useState } from "preact/hooks";
import { ago, api, type Diff, type Draft, type Me, type Page, type SpaceEntry, type Template, type Version } from "./api";
import { go, href } from "./router";
import { Segmented } from "./search";

export function HistoryScreen(props: { page: Page; onRestored: (p: Page) => void }) {
  const { page } = props;
  const [versions, setVersions] = useState<Version[]>([]);
  const [from, setFrom] = useState<number | null>(null);
  const [to, setTo] = useState<number | null>(null);
  const [diff, setDiff] = useState<Diff | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    api.history(page.id).then(
      (v) => {
        setVersions(v);
        const latest = v[0]?.version ?? 1;
        setTo(latest);
        setFrom(Math.max(1, latest - 1));
      },
      (e) => setError(e.message),
    );
  }, [page.id, page.version]);

  useEffect(() => {
    if (from === null || to === null) return;
    api.diff(page.id, from, to).then(setDiff, (e) => setError(e.message));
  }, [from, to, page.id]);

  const restore = async (version: number) => {
    if (!confirm(`Make version ${version} the newest version? Nothing is lost: the current text stays in history.`))
      return;
    try {
      const p = await api.restore(page.id, version);
      props.onRestored(p);
    } catch (e) {
      setError((e as Error).message);
    }
  };

  return (
    <div class="history">
      <nav class="breadcrumbs">
        <a href={href({ name: "page", id: page.id })}>← {page.title}</a>
      </nav>
      <h1>History of “{page.title}”</h1>
      {error && <p class="notice error">{error}</p>}
      <div class="history-layout">
        <table class="versions">
          <thead>
            <tr>
              <th scope="col">Version</th>
              <th scope="col">Author</th>
              <th scope="col">When</th>
              <th scope="col">Compare</th>
              <th scope="col" />
            </tr>
          </thead>
          <tbody>
            {versions.map((v) => (
              <tr class={v.version === to || v.version === from ? "picked" : ""}>
                <td>
                  <strong>v{v.version}</strong>
                  <div class="muted small">{v.message}</div>
                </td>
                <td>{v.author.name}</td>
                <td title={v.date}>{ago(v.date)}</td>
                <td class="compare">
                  <label>
                    <input
                      type="radio"
                      name="from"
                      checked={from === v.version}
                      aria-label={`Compare from version ${v.version}`}
                      onChange={() => setFrom(v.version)}
                    />
                    from
                  </label>
                  <label>
                    <input
                      type="radio"
                      name="to"
                      checked={to === v.version}
                      aria-label={`Compare to version ${v.version}`}
                      onChange={() => setTo(v.version)}
                    />
                    to
                  </label>
                </td>
                <td>
                  {v.version !== page.version && (
                    <button class="button small" onClick={() => restore(v.version)}>
                      Restore v{v.version}
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        <section class="diff" aria-label="Changes">
          {diff && (
            <>
              <h2>
                Changes from v{diff.from} to v{diff.to}
              </h2>
              {diff.words.every((w) => w.op === "equal") ? (
                <p class="muted">No changes between these versions.</p>
              ) : (
                <pre class="word-diff">
                  {diff.words.map((w) =>
                    w.op === "equal" ? w.text : w.op === "insert" ? <ins>{w.text}</ins> : <del>{w.text}</del>,
                  )}
                </pre>
              )}
            </>
          )}
        </section>
      </div>
    </div>
  );
}

function FieldInput(props: {
  field: Template["fields"][number];
  value: string;
  onChange: (v: string) => void;
}) {
  const { field } = props;
  const id = `field-${field.name}`;
  const label = field.label || field.name;
  const set = (e: Event) => props.onChange((e.target as HTMLInputElement).value);
  let input;
  switch (field.type) {
    case "select":
      input = (
        <select id={id} value={props.value} onChange={set} required={field.required}>
          <option value="">Choose…</option>
          {field.options.map((o) => (
            <option value={o}>{o}</option>
          ))}
        </select>
      );
      break;
    case "boolean":
      input = (
        <input
          id={id}
          type="checkbox"
          checked={props.value === "true"}
          onChange={(e) => props.onChange((e.target as HTMLInputElement).checked ? "true" : "false")}
        />
      );
      break;
    case "date":
      input = <input id={id} type="date" value={props.value} onInput={set} required={field.required} />;
      break;
    case "number":
      input = <input id={id} type="number" value={props.value} onInput={set} required={field.required} />;
      break;
    default:
      input = (
        <input
          id={id}
          type="text"
          value={props.value}
          onInput={set}
          required={field.required}
          placeholder={field.type === "users" || field.type === "labels" ? "Separate several with commas" : ""}
        />
      );
  }
  return (
    <div class={`form-row${field.type === "boolean" ? " inline" : ""}`}>
      <label for={id}>
        {label}
        {field.required && <span aria-hidden="true"> *</span>}
      </label>
      {input}
    </div>
  );
}

export function CreateScreen(props: { space: string; parent?: string; onCreated: (p: Page) => void }) {
  const [templates, setTemplates] = useState<Template[]>([]);
  const [template, setTemplate] = useState<string>("");
  const [title, setTitle] = useState("");
  const [fields, setFields] = useState<Record<string, string>>({});
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [parentTitle, setParentTitle] = useState<string | null>(null);
  // Drafts: meeting notes from a transcript, a reference of the space's code, a template filled
  // from notes. The draft is shown for the user to check and change before creating the page.
  const [source, setSource] = useState("");
  const [draft, setDraft] = useState<Draft | null>(null);
  const NOTES = "\u0000notes";
  const CODE = "\u0000code";
  const makeDraft = async () => {
    setBusy(true);
    setError(null);
    try {
      const d =
        template === NOTES
          ? await api.draft(props.space, { kind: "notes", transcript: source })
          : template === CODE
            ? await api.draft(props.space, { kind: "docs", path: source.trim() })
            : await api.draft(props.space, { kind: "page", template, context: source });
      setDraft(d);
      if (!title.trim()) setTitle(d.title);
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };

  useEffect(() => {
    api.templates(props.space).then((t) => setTemplates(t.filter((x) => !x.error)), () => setTemplates([]));
  }, [props.space]);
  useEffect(() => {
    if (props.parent) api.page(props.parent).then((p) => setParentTitle(p.title), () => setParentTitle(null));
  }, [props.parent]);

  const chosen = templates.find((t) => t.name === template);
  // Choosing a template resets what belonged to the previous one in the same update as the
  // choice: an effect would run after the next paint and wipe what was typed meanwhile.
  const choose = (name: string) => {
    const init: Record<string, string> = {};
    for (const f of templates.find((t) => t.name === name)?.fields ?? []) {
      if (f.default === undefined || f.default === null) continue;
      const today = f.type === "date" && String(f.default) === "today";
      init[f.name] = today ? new Date().toISOString().slice(0, 10) : String(f.default);
    }
    setTemplate(name);
    setFields(init);
    setDraft(null);
    setSource("");
  };

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const page =
        draft
          ? await api.createPage(props.space, {
              title: title.trim() || draft?.title,
              body: draft?.body ?? "",
              labels: draft?.labels,
              parent: props.parent ?? null,
            })
          : await api.createPage(props.space, {
              title: title.trim() || undefined,
              parent: props.parent ?? null,
              template: template || undefined,
              fields: template ? fields : undefined,
            });
      props.onCreated(page);
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="create" onSubmit={submit}>
      <h1>New page</h1>
      <p class="muted">
        In {props.space}
        {parentTitle && <> under “{parentTitle}”</>}
      </p>
      <div class="form-row">
        <label for="new-title">Title</label>
        <input
          id="new-title"
          value={title}
          required={!chosen?.title}
          placeholder={chosen?.title ?? "What is this page about?"}
          onInput={(e) => setTitle((e.target as HTMLInputElement).value)}
        />
      </div>
      <fieldset class="templates">
        <legend>Start from</legend>
        <label class={`template-card${template === "" ? " on" : ""}`}>
          <input type="radio" name="template" checked={template === ""} onChange={() => choose("")} />
          <strong>Blank page</strong>
          <span class="muted">Write from scratch.</span>
        </label>
        {templates.map((t) => (
          <label class={`template-card${template === t.name ? " on" : ""}`}>
            <input type="radio" name="template" checked={template === t.name} onChange={() => choose(t.name)} />
            <strong>{t.title || t.name}</strong>
            <span class="muted">{t.description}</span>
          </label>
        ))}
        <label class={`template-card${template === NOTES ? " on" : ""}`}>
          <input type="radio" name="template" checked={template === NOTES} onChange={() => choose(NOTES)} />
          <strong>Meeting notes from a transcript</strong>
          <span class="muted">Attendees, decisions and action items, drafted for you to check.</span>
        </label>
        <label class={`template-card${template === CODE ? " on" : ""}`}>
          <input type="radio" name="template" checked={template === CODE} onChange={() => choose(CODE)} />
          <strong>Reference of the code</strong>
          <span class="muted">Routes and public items of the space's code repository, drafted for you to check.</span>
        </label>
      </fieldset>
      {template !== "" && (
        <fieldset class="fields">
          <legend>
            {template === NOTES ? "Transcript" : template === CODE ? "Folder of the code" : "Or draft it from notes"}
          </legend>
          {template === CODE ? (
            <input
              id="draft-source"
              placeholder="src/api (empty: all of it)"
              value={source}
              onInput={(e) => setSource((e.target as HTMLInputElement).value)}
            />
          ) : (
            <textarea
              id={template === NOTES ? "transcript" : "draft-source"}
              rows={template === NOTES ? 8 : 5}
              placeholder={
                template === NOTES
                  ? "One line per turn:\nAlice: We decided to ship on Tuesday.\nBob: I'll write the release notes by Friday."
                  : "Notes: `Field: value` lines fill the fields; the rest is kept under Context."
              }
              value={source}
              onInput={(e) => setSource((e.target as HTMLTextAreaElement).value)}
            />
          )}
          <button
            type="button"
            class="button"
            disabled={(template !== CODE && !source.trim()) || busy}
            onClick={makeDraft}
          >
            {template === NOTES ? "Draft the notes" : template === CODE ? "Draft the reference" : "Draft from the notes"}
          </button>
          {draft && (
            <>
              <p class="muted">
                Draft {draft.by === "extractive" ? "built from what you gave" : `by ${draft.by}`}
                {draft.note && ` · ${draft.note}`}. Check it, change what is wrong, then create the page.
              </p>
              <textarea
                id="draft-body"
                rows={16}
                value={draft.body}
                onInput={(e) => setDraft({ ...draft, body: (e.target as HTMLTextAreaElement).value })}
              />
            </>
          )}
        </fieldset>
      )}
      {chosen && !draft && chosen.fields.length > 0 && (
        <fieldset class="fields">
          <legend>{chosen.title || chosen.name}</legend>
          {chosen.fields.map((f) => (
            <FieldInput field={f} value={fields[f.name] ?? ""} onChange={(v) => setFields({ ...fields, [f.name]: v })} />
          ))}
        </fieldset>
      )}
      {error && (
        <p class="notice error" role="alert">
          {error}
        </p>
      )}
      <div class="row">
        <button class="button primary" type="submit" disabled={busy || ((template === NOTES || template === CODE) && !draft)}>
          Create page
        </button>
        <button type="button" class="button" onClick={() => history.back()}>
          Cancel
        </button>
      </div>
    </form>
  );
}

export function Settings(props: {
  me: Me | null;
  spaces: SpaceEntry[];
  theme: string;
  setTheme: (t: string) => void;
  onSpaces: () => void;
}) {
  const [key, setKey] = useState("");
  const [name, setName] = useState("");
  const [liveOn, setLiveOn] = useState(() => localStorage.getItem("cdo.live") !== "off");
  const [error, setError] = useState<string | null>(null);
  const create = async (e: Event) => {
    e.preventDefault();
    setError(null);
    try {
      const s = await api.createSpace(key.trim().toUpperCase(), name.trim());
      setKey("");
      setName("");
      props.onSpaces();
      go({ name: "space", key: s.key });
    } catch (err) {
      setError((err as Error).message);
    }
  };
  return (
    <div class="settings">
      <h1>Settings</h1>
      <section>
        <h2>Who I am</h2>
        {props.me ? (
          <p>
            Edits are saved as <strong>{props.me.name}</strong> &lt;{props.me.email}&gt;.
            {!props.me.authRequired && " (This wiki runs without sign-in, as the person who started it.)"}
          </p>
        ) : (
          <p class="muted">Not signed in.</p>
        )}
      </section>
      <section>
        <h2>Appearance</h2>
        <Segmented label="Theme" options={["system", "light", "dark"]} value={props.theme} onChange={props.setTheme} />
      </section>
      <section>
        <h2>Spaces</h2>
        <ul class="links">
          {props.spaces.map((s) => (
            <li>
              <a href={href({ name: "space", key: s.key })}>
                <strong>{s.key}</strong> {s.name}
              </a>
            </li>
          ))}
        </ul>
        <form class="row" onSubmit={create}>
          <input
            aria-label="New space key"
            placeholder="KEY"
            value={key}
            required
            pattern="[A-Za-z0-9_]+"
            onInput={(e) => setKey((e.target as HTMLInputElement).value)}
          />
          <input
            aria-label="New space name"
            placeholder="Name"
            value={name}
            required
            onInput={(e) => setName((e.target as HTMLInputElement).value)}
          />
          <button class="button" type="submit">
            Create space
          </button>
        </form>
        {error && <p class="notice error">{error}</p>}
        <p class="muted small">
          To add an existing repository of Markdown, run <code>confluence-do space add PATH</code>.
        </p>
      </section>
      <section>
        <h2>Editing</h2>
        <label class="check">
          <input
            type="checkbox"
            checked={liveOn}
            onChange={(e) => {
              const on = (e.target as HTMLInputElement).checked;
              setLiveOn(on);
              if (on) localStorage.removeItem("cdo.live");
              else localStorage.setItem("cdo.live", "off");
            }}
          />{" "}
          Edit together live (others' cursors, changes as they type). Off: each save is a version, and a page changed meanwhile is merged when you save.
        </label>
      </section>
      {props.spaces.length > 0 && (
        <section>
          <h2>Team server</h2>
          <p class="muted small">
            Join a team server to edit a space live with your team. Its pages keep working here when the server is out of reach; what you write meanwhile merges when it is back. The space must be a clone of the team's (same git remote).
          </p>
          {props.spaces.map((s) => (
            <TeamServer key={s.key} space={s.key} />
          ))}
        </section>
      )}
    </div>
  );
}

function TeamServer(props: { space: string }) {
  const [state, setState] = useState<{ joined: boolean; url?: string } | null>(null);
  const [url, setUrl] = useState("");
  const [token, setToken] = useState("");
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    api.teamServer(props.space).then(setState, () => setState(null));
  }, [props.space]);
  if (!state) return null;
  const join = async (e: Event) => {
    e.preventDefault();
    setError(null);
    try {
      setState(await api.joinTeamServer(props.space, url.trim(), token.trim()));
      setToken("");
    } catch (err) {
      setError((err as Error).message);
    }
  };
  return (
    <div class="team-server">
      <strong>{props.space}</strong>{" "}
      {state.joined ? (
        <>
          edits live through <code>{state.url}</code>{" "}
          <button
            class="button"
            onClick={async () => {
              await api.leaveTeamServer(props.space);
              setState({ joined: false });
            }}
          >
            Leave
          </button>
        </>
      ) : (
        <form class="row" onSubmit={join}>
          <input aria-label={`Team server address for ${props.space}`} placeholder="https://wiki.example.com" value={url} required onInput={(e) => setUrl((e.target as HTMLInputElement).value)} />
          <input aria-label={`API token for ${props.space}`} placeholder="API token" type="password" value={token} required onInput={(e) => setToken((e.target as HTMLInputElement).value)} />
          <button class="button" type="submit">
            Join
          </button>
        </form>
      )}
      {error && <p class="notice error">{error}</p>}
    </div>
  );
}
