// Ask: an answer from the wiki with its sources, streamed while the model writes. The answer's
// [n] citations link to the section they came from; without a model it is the wiki's best
// sentences, and a question the wiki does not cover says so.
import { useEffect, useState } from "preact/hooks";
import { type Answer, type AnswerSource, api } from "./api";
import { href } from "./router";

function sourceHref(s: AnswerSource) {
  return href({ name: "page", id: s.id, anchor: s.anchor || undefined });
}

/** The answer's text with each [n] as a link to source n. */
function Cited(props: { answer: Answer }) {
  const parts = props.answer.answer.split(/(\[\d+\])/);
  return (
    <p class="answer-text">
      {parts.map((part) => {
        const m = part.match(/^\[(\d+)\]$/);
        const source = m && props.answer.sources.find((s) => s.n === Number(m[1]));
        return source ? (
          <a class="cite" href={sourceHref(source)} title={`${source.title}${source.section ? ` › ${source.section}` : ""}`}>
            {part}
          </a>
        ) : (
          part
        );
      })}
    </p>
  );
}

export function AskPanel(props: { q: string; space?: string }) {
  const [draft, setDraft] = useState("");
  const [answer, setAnswer] = useState<Answer | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    setDraft("");
    setAnswer(null);
    setError(null);
    if (!props.q.trim()) return;
    return api.ask(
      props.q,
      props.space,
      (piece) => setDraft((d) => d + piece),
      (a) => setAnswer(a),
      (e) => setError(e),
    );
  }, [props.q, props.space]);
  if (!props.q.trim()) return null;
  return (
    <section class="answer" aria-label="Answer" aria-live="polite">
      {error && <p class="notice error">{error}</p>}
      {!answer && !error && (
        <p class="answer-draft">{draft ? draft : <span class="muted">Reading the wiki…</span>}</p>
      )}
      {answer && (
        <>
          <Cited answer={answer} />
          <p class="muted answer-by">
            {answer.by === "extractive" ? "Quoted from the wiki" : `Written by ${answer.by}, checked against the sources`}
            {answer.note && ` · ${answer.note}`}
          </p>
          {answer.sources.length > 0 && (
            <ol class="answer-sources">
              {answer.sources.map((s) => (
                <li class={s.n ? "cited" : ""}>
                  {s.n ? <span class="cite">[{s.n}]</span> : <span class="cite"> </span>}{" "}
                  <a href={sourceHref(s)}>{s.title}</a>
                  {s.section && s.section !== s.title && <span class="muted"> › {s.section}</span>}
                </li>
              ))}
            </ol>
          )}
        </>
      )}
    </section>
  );
}
