//! `generate`: drafts of pages (documentation of code, a page from a template, meeting notes),
//! printed or written to a file for the user to edit and publish.

use anyhow::{Result, bail};
use cdo_ai::generate::{self, Draft};
use cdo_app::Wiki;

use crate::args::{DraftOut, GenerateCmd};
use crate::output::print_json;

pub fn run(wiki: &Wiki, author: &str, cmd: GenerateCmd) -> Result<()> {
    let today = jiff::ZonedDateTime::now().date().to_string();
    let model = |out: &DraftOut| -> Result<Option<cdo_ai::OpenAi>> {
        Ok(if out.no_model { None } else { cdo_ai::configured_model(wiki)? })
    };
    let (key, draft, out) = match cmd {
        GenerateCmd::Docs { key, repo, path, style, out } => {
            let repo = match repo.or(wiki.code_repo(&key)?) {
                Some(repo) => repo,
                None => bail!("which code? pass --repo DIR, or register the space's with `space code {key} DIR`"),
            };
            let code = cdo_ai::fresh::Code::scan(&repo)?;
            let llm = model(&out)?;
            let draft = generate::docs(&code, &path, &style, llm.as_ref().map(|m| m as &dyn cdo_ai::Model))?;
            (key, draft, out)
        }
        GenerateCmd::Page { key, template, context, out } => {
            let space = wiki.open_space(&key)?;
            let template = space.template(&template)?;
            let context = crate::commands::read_body(&Some(context))?.unwrap_or_default();
            let llm = model(&out)?;
            let model = llm.as_ref().map(|m| m as &dyn cdo_ai::Model);
            let draft = generate::from_template(&template, &context, &today, author, model)?;
            (key, draft, out)
        }
        GenerateCmd::Notes { key, transcript, date, out } => {
            wiki.open_space(&key)?;
            let transcript = crate::commands::read_body(&Some(transcript))?.unwrap_or_default();
            let llm = model(&out)?;
            let model = llm.as_ref().map(|m| m as &dyn cdo_ai::Model);
            let draft = generate::meeting_notes(&transcript, date.as_deref().unwrap_or(&today), model)?;
            (key, draft, out)
        }
    };
    show(&key, &draft, &out)
}

fn show(key: &str, draft: &Draft, out: &DraftOut) -> Result<()> {
    if let Some(note) = &draft.note {
        eprintln!("note: {note}");
    }
    if out.json {
        print_json(&serde_json::to_value(draft)?);
        return Ok(());
    }
    let labels: String = draft.labels.iter().map(|l| format!(" --label {l}")).collect();
    match &out.out {
        Some(path) => {
            std::fs::write(path, &draft.body).map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))?;
            eprintln!(
                "Draft \"{}\" written to {}. Edit it, then publish it with:\n  confluence-do page create {key} --title {:?} --file {}{labels}",
                draft.title,
                path.display(),
                draft.title,
                path.display()
            );
        }
        None => {
            eprintln!(
                "Draft \"{}\" (publish with `page create {key} --title ... --file FILE{labels}`):\n",
                draft.title
            );
            print!("{}", draft.body);
        }
    }
    Ok(())
}
