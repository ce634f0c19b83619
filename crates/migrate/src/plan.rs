//! Where each page goes: file paths from the page tree (slugs of the titles, unique among
//! siblings), sibling positions, blog posts in their own tree by year, and the links between
//! pages that the converter writes.

use std::collections::{HashMap, HashSet};

use cdo_core::catalog::stem_of;
use cdo_core::links;
use cdo_core::slug;
use cdo_storage::Links;

use crate::model::{Kind, SpaceData};

/// The folder blog posts live under, by year.
pub const BLOG_FOLDER: &str = "blog";
/// The report page's file.
pub const REPORT_FILE: &str = "confluence-migration-report.md";

/// The file of every content, by index into [`SpaceData::contents`].
#[derive(Clone, Debug, Default)]
pub struct Plan {
    pub paths: Vec<String>,
    /// Sibling positions (steps of 1024, as the space format keeps them).
    pub positions: Vec<Option<i64>>,
    /// Lower-cased title (current and earlier ones) to path.
    by_title: HashMap<String, String>,
    key: String,
    users: HashMap<String, String>,
    /// The Jira site issue keys link to: `https://acme.atlassian.net`.
    jira: Option<String>,
    /// Other spaces beside this one in the home's spaces folder, by upper-case key.
    neighbours: HashMap<String, Neighbour>,
}

/// A space beside the one being written (in the same folder), that links may lead into.
#[derive(Clone, Debug, Default)]
pub struct Neighbour {
    /// Its folder's name: `OPS`.
    pub folder: String,
    /// Lower-cased title to the page's path in that space.
    pub titles: HashMap<String, String>,
}

impl Plan {
    /// Plans `data`; issue macros link into the Jira site at `jira` when given.
    pub fn new(data: &SpaceData, jira: Option<&str>) -> Plan {
        let index: HashMap<&str, usize> = data.contents.iter().enumerate().map(|(i, c)| (c.id.as_str(), i)).collect();
        let mut paths: Vec<Option<String>> = vec![None; data.contents.len()];
        let mut positions = vec![None; data.contents.len()];
        // Names taken per folder, lower-cased; the root keeps the blog folder and the report.
        let mut taken: HashMap<String, HashSet<String>> = HashMap::new();
        taken.entry(String::new()).or_default().extend([BLOG_FOLDER.to_owned(), stem_of(REPORT_FILE).to_owned()]);
        let mut sibling_count: HashMap<String, i64> = HashMap::new();
        // Parents first: a page whose parent comes later (or is missing) is placed when reached.
        let mut order: Vec<usize> = (0..data.contents.len()).collect();
        order.sort_by_key(|&i| depth(data, &index, i));
        for i in order {
            let content = &data.contents[i];
            let folder = match content.kind {
                Kind::BlogPost => {
                    let year = content
                        .versions
                        .first()
                        .and_then(|v| jiff::Timestamp::from_second(v.when.seconds).ok())
                        .map_or_else(|| "undated".to_owned(), |t| t.strftime("%Y").to_string());
                    format!("{BLOG_FOLDER}/{year}")
                }
                Kind::Page => {
                    match content.parent.as_deref().and_then(|p| index.get(p)).and_then(|&p| paths[p].clone()) {
                        Some(parent) => stem_of(&parent).to_owned(),
                        None => String::new(),
                    }
                }
            };
            let names = taken.entry(folder.clone()).or_default();
            let name = slug::unique(&slug::slugify(content.title()), |n| names.contains(&n.to_ascii_lowercase()));
            names.insert(name.to_ascii_lowercase());
            let path = if folder.is_empty() { format!("{name}.md") } else { format!("{folder}/{name}.md") };
            if content.kind == Kind::Page {
                let n = sibling_count.entry(folder).or_insert(0);
                *n += 1;
                positions[i] = Some(*n * 1024);
            }
            paths[i] = Some(path);
        }
        let paths: Vec<String> = paths.into_iter().map(Option::unwrap_or_default).collect();
        let mut by_title = HashMap::new();
        for (content, path) in data.contents.iter().zip(&paths) {
            // The current title wins over an earlier title of another page.
            for v in content.versions.iter().rev().skip(1) {
                by_title.entry(v.title.to_lowercase()).or_insert_with(|| path.clone());
            }
        }
        for (content, path) in data.contents.iter().zip(&paths) {
            by_title.insert(content.title().to_lowercase(), path.clone());
        }
        let mut users = HashMap::new();
        for (id, person) in &data.users {
            users.insert(id.clone(), person.name.clone());
        }
        let jira = jira.map(|j| j.trim().trim_end_matches('/').to_owned()).filter(|j| !j.is_empty());
        Plan { paths, positions, by_title, key: data.key.clone(), users, jira, neighbours: HashMap::new() }
    }

    /// Links to pages of these spaces become relative links into their folders.
    pub fn with_neighbours(mut self, neighbours: HashMap<String, Neighbour>) -> Plan {
        self.neighbours = neighbours.into_iter().map(|(k, v)| (k.to_ascii_uppercase(), v)).collect();
        self
    }

    /// This space as a neighbour of others, in the folder `folder`.
    pub fn as_neighbour(&self, folder: &str) -> Neighbour {
        Neighbour { folder: folder.to_owned(), titles: self.by_title.clone() }
    }

    /// The links of the page at `from`.
    pub fn links<'a>(&'a self, from: &'a str) -> PlanLinks<'a> {
        PlanLinks { plan: self, from }
    }
}

/// How deep a content sits (blog posts and orphans at 0), guarding against parent cycles.
fn depth(data: &SpaceData, index: &HashMap<&str, usize>, mut i: usize) -> usize {
    let mut depth = 0;
    while let Some(&p) = data.contents[i].parent.as_deref().and_then(|p| index.get(p)) {
        depth += 1;
        if depth > data.contents.len() {
            break;
        }
        i = p;
    }
    depth
}

/// Links from one page of the plan to the others.
pub struct PlanLinks<'a> {
    plan: &'a Plan,
    from: &'a str,
}

impl Links for PlanLinks<'_> {
    fn page_path(&self, space: Option<&str>, title: &str) -> Option<String> {
        if let Some(other) = space.filter(|s| !s.eq_ignore_ascii_case(&self.plan.key)) {
            // Out of this space's folder, into the other's beside it.
            let neighbour = self.plan.neighbours.get(&other.to_ascii_uppercase())?;
            let to = neighbour.titles.get(&title.to_lowercase())?;
            let ups = "../".repeat(self.from.matches('/').count() + 1);
            return Some(format!("{ups}{}", links::relative("", &format!("{}/{to}", neighbour.folder))));
        }
        let to = self.plan.by_title.get(&title.to_lowercase())?;
        Some(links::relative(self.from, to))
    }

    fn page_of(&self, _: &str) -> Option<(Option<String>, String)> {
        None
    }

    fn user_name(&self, id: &str) -> Option<String> {
        self.plan.users.get(id).filter(|n| !n.is_empty()).cloned()
    }

    fn issue_url(&self, key: &str) -> Option<String> {
        self.plan.jira.as_ref().map(|j| format!("{j}/browse/{key}"))
    }

    fn diagram_previews(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Content, Version, When};

    fn content(id: &str, title: &str, parent: Option<&str>, kind: Kind, year: i64) -> Content {
        Content {
            id: id.into(),
            kind,
            parent: parent.map(str::to_owned),
            labels: vec![],
            versions: vec![Version {
                number: 1,
                title: title.into(),
                storage: String::new(),
                by: Default::default(),
                when: When { seconds: (year - 1970) * 31_557_600, offset_minutes: 0 },
                message: String::new(),
            }],
            attachments: vec![],
            comments: vec![],
        }
    }

    #[test]
    fn paths_follow_the_tree_and_stay_unique() {
        let data = SpaceData {
            key: "ENG".into(),
            contents: vec![
                content("3", "Child", Some("1"), Kind::Page, 2020),
                content("1", "Home", None, Kind::Page, 2020),
                content("2", "Blog", None, Kind::Page, 2020),
                content("4", "child", Some("1"), Kind::Page, 2020),
                content("5", "Release notes", None, Kind::BlogPost, 2023),
                content("6", "Orphan", Some("404"), Kind::Page, 2020),
            ],
            ..Default::default()
        };
        let plan = Plan::new(&data, None);
        assert_eq!(
            plan.paths,
            ["home/child.md", "home.md", "blog-2.md", "home/child-2.md", "blog/2023/release-notes.md", "orphan.md"]
        );
        assert_eq!(plan.positions, [Some(1024), Some(1024), Some(2048), Some(2048), None, Some(3072)]);
        let links = plan.links("home/child.md");
        assert_eq!(links.page_path(None, "home").as_deref(), Some("../home.md"));
        assert_eq!(links.page_path(Some("eng"), "Release Notes").as_deref(), Some("../blog/2023/release-notes.md"));
        assert_eq!(links.page_path(Some("OPS"), "Home"), None);
        let ops =
            Neighbour { folder: "OPS".into(), titles: [("on call".to_owned(), "teams/on-call.md".to_owned())].into() };
        let plan = plan.with_neighbours([("ops".to_owned(), ops)].into());
        let links = plan.links("home/child.md");
        assert_eq!(links.page_path(Some("OPS"), "On Call").as_deref(), Some("../../OPS/teams/on-call.md"));
        assert_eq!(plan.links("home.md").page_path(Some("ops"), "on call").as_deref(), Some("../OPS/teams/on-call.md"));
    }
}
