//! The Confluence XML space export: a zip with `entities.xml` (Hibernate objects: the space,
//! pages and their historical versions, blog posts, bodies in storage format, comments, labels,
//! users, attachments, permissions) and `attachments/<page id>/<attachment id>/<version>`.
//!
//! `entities.xml` is read as a stream (exports run to gigabytes) into generic objects, then
//! assembled into [`SpaceData`]. A folder holding an unpacked export works too.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use quick_xml::events::Event;

use crate::MigrateError;
use crate::model::{Attachment, Blob, Comment, Content, Kind, Permission, Person, SpaceData, Version, When};

/// A property of an object: text, or a reference to another object.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Prop {
    Text(String),
    Ref(String),
}

/// One `<object>` of `entities.xml`.
#[derive(Clone, Debug, Default)]
struct Object {
    class: String,
    id: String,
    props: HashMap<String, Prop>,
    collections: HashMap<String, Vec<String>>,
}

impl Object {
    fn text(&self, name: &str) -> Option<&str> {
        match self.props.get(name) {
            Some(Prop::Text(t)) => Some(t.as_str()),
            _ => None,
        }
    }

    fn reference(&self, name: &str) -> Option<&str> {
        match self.props.get(name) {
            Some(Prop::Ref(id)) => Some(id.as_str()),
            _ => None,
        }
    }

    fn when(&self, name: &str) -> When {
        self.text(name).and_then(When::parse).unwrap_or_default()
    }

    fn number(&self, name: &str) -> Option<i64> {
        self.text(name).and_then(|t| t.trim().parse().ok())
    }
}

/// Where an export is: a zip, or a folder it was unpacked into.
enum Source {
    Zip(PathBuf),
    Folder(PathBuf),
}

/// Reads the space in the export at `path` (the space with key `key` when the export holds
/// several).
pub fn read(path: &Path, key: Option<&str>) -> Result<SpaceData, MigrateError> {
    let source = if path.is_dir() { Source::Folder(path.to_path_buf()) } else { Source::Zip(path.to_path_buf()) };
    let objects = match &source {
        Source::Folder(dir) => {
            let file = dir.join("entities.xml");
            let f = std::fs::File::open(&file).map_err(|e| MigrateError::io(&file, e))?;
            parse(BufReader::new(f))?
        }
        Source::Zip(zip_path) => {
            let f = std::fs::File::open(zip_path).map_err(|e| MigrateError::io(zip_path, e))?;
            let mut zip = zip::ZipArchive::new(f).map_err(|e| {
                MigrateError::Export(format!(
                    "{} is not a zip file ({e}); pass the XML export as it was downloaded",
                    zip_path.display()
                ))
            })?;
            let entities = zip.by_name("entities.xml").map_err(|_| {
                MigrateError::Export(format!(
                    "{} has no entities.xml: it is not a Confluence XML export (for an HTML export use the same command; it is detected by its index.html)",
                    zip_path.display()
                ))
            })?;
            parse(BufReader::with_capacity(1 << 16, entities))?
        }
    };
    assemble(objects, &source, key, &path.display().to_string())
}

/// Whether the zip or folder at `path` is an XML export (it has `entities.xml`).
pub fn is_xml_export(path: &Path) -> bool {
    if path.is_dir() {
        return path.join("entities.xml").is_file();
    }
    std::fs::File::open(path)
        .ok()
        .and_then(|f| zip::ZipArchive::new(f).ok())
        .is_some_and(|mut z| z.by_name("entities.xml").is_ok())
}

fn xml_error(e: impl std::fmt::Display, position: u64) -> MigrateError {
    MigrateError::Export(format!("entities.xml at byte {position}: {e}"))
}

fn attr(e: &quick_xml::events::BytesStart<'_>, name: &str) -> Option<String> {
    e.try_get_attribute(name)
        .ok()
        .flatten()
        .and_then(|a| a.normalized_value(quick_xml::XmlVersion::Implicit1_0).ok().map(|v| v.into_owned()))
}

/// The entity a `&name;` reference stands for.
fn entity(name: &str) -> Option<&'static str> {
    Some(match name {
        "amp" => "&",
        "lt" => "<",
        "gt" => ">",
        "quot" => "\"",
        "apos" => "'",
        _ => return None,
    })
}

/// Streams `entities.xml` into objects.
fn parse(input: impl BufRead) -> Result<Vec<Object>, MigrateError> {
    let mut reader = quick_xml::Reader::from_reader(input);
    let mut buf = Vec::new();
    let mut objects = Vec::new();
    let mut current: Option<Object> = None;
    // Inside an object: the element path below it.
    let mut path: Vec<(String, Option<String>)> = Vec::new();
    let mut text = String::new();
    let mut collected: Vec<String> = Vec::new();
    loop {
        let position = reader.buffer_position();
        let event = reader.read_event_into(&mut buf).map_err(|e| xml_error(e, position))?;
        match event {
            Event::Start(e) => {
                let name = e.name().as_ref().to_owned();
                if current.is_some() {
                    if name == "collection" {
                        collected.clear();
                    }
                    path.push((name, attr(&e, "name")));
                    text.clear();
                } else if name == "object" {
                    current = Some(Object { class: attr(&e, "class").unwrap_or_default(), ..Default::default() });
                    path.clear();
                }
            }
            Event::Empty(e) => {
                // `<property name="x"/>`: an empty value.
                if let Some(obj) = &mut current
                    && path.is_empty()
                    && e.name().as_ref() == "property"
                    && let Some(n) = attr(&e, "name")
                {
                    obj.props.insert(n, Prop::Text(String::new()));
                }
            }
            Event::Text(t) if current.is_some() => text.push_str(&t.xml10_content()),
            Event::CData(t) if current.is_some() => text.push_str(&t.xml10_content()),
            Event::GeneralRef(r) if current.is_some() => match r.resolve_char_ref() {
                Ok(Some(c)) => text.push(c),
                _ => text.push_str(entity(&r.xml10_content()).unwrap_or("")),
            },
            Event::End(_) => {
                let Some(obj) = &mut current else { continue };
                let Some((name, attr_name)) = path.pop() else {
                    objects.push(std::mem::take(obj));
                    current = None;
                    continue;
                };
                let value = std::mem::take(&mut text);
                match (path.len(), name.as_str()) {
                    // `<id name="id">` of the object itself.
                    (0, "id") => obj.id = value.trim().to_owned(),
                    (0, "property") => {
                        let key = attr_name.unwrap_or_default();
                        // A reference keeps the id read from its inner `<id>`.
                        let prop = match obj.props.remove(&key) {
                            Some(Prop::Ref(id)) => Prop::Ref(id),
                            _ => Prop::Text(value),
                        };
                        obj.props.insert(key, prop);
                    }
                    (0, "collection") => {
                        obj.collections.insert(attr_name.unwrap_or_default(), std::mem::take(&mut collected));
                    }
                    (1, "id") => {
                        if let Some((parent, Some(parent_name))) = path.first()
                            && parent == "property"
                        {
                            obj.props.insert(parent_name.clone(), Prop::Ref(value.trim().to_owned()));
                        }
                    }
                    (2, "id") if path.first().is_some_and(|(p, _)| p == "collection") => {
                        collected.push(value.trim().to_owned());
                    }
                    _ => {}
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    Ok(objects)
}

fn is_content_class(class: &str) -> bool {
    matches!(class, "Page" | "BlogPost")
}

/// Objects into a space.
fn assemble(objects: Vec<Object>, source: &Source, key: Option<&str>, label: &str) -> Result<SpaceData, MigrateError> {
    let mut by_class: HashMap<&str, Vec<&Object>> = HashMap::new();
    for o in &objects {
        by_class.entry(o.class.as_str()).or_default().push(o);
    }
    let of = |class: &str| by_class.get(class).cloned().unwrap_or_default();
    let spaces = of("Space");
    let space = match key {
        Some(k) if spaces.len() > 1 => {
            spaces.iter().find(|s| s.text("key").is_some_and(|sk| sk.eq_ignore_ascii_case(k)))
        }
        _ => spaces.first(),
    }
    .copied()
    .ok_or_else(|| MigrateError::Export(format!("{label} holds no space (no Space object in entities.xml)")))?;
    let space_id = space.id.clone();

    // People, by user key; names and addresses from whichever object has them.
    let mut users: HashMap<String, Person> = HashMap::new();
    let mut by_name: HashMap<String, (String, Option<String>)> = HashMap::new();
    for u in of("InternalUser").into_iter().chain(of("User")) {
        if let Some(name) = u.text("lowerName").or(u.text("name")) {
            let display = u.text("displayName").or(u.text("fullName")).unwrap_or(name).to_owned();
            let email = u.text("emailAddress").or(u.text("email")).map(str::to_owned);
            by_name.insert(name.to_lowercase(), (display, email));
        }
    }
    for u in of("ConfluenceUserImpl") {
        let name = u.text("name").unwrap_or(&u.id).to_owned();
        let (display, email) = by_name.get(&name.to_lowercase()).cloned().unwrap_or_else(|| {
            let display = u.text("displayName").or(u.text("fullName")).unwrap_or(&name).to_owned();
            (display, u.text("email").or(u.text("emailAddress")).map(str::to_owned))
        });
        let person = Person { id: u.id.clone(), name: display, email };
        users.insert(name, person.clone());
        users.insert(u.id.clone(), person);
    }
    let person = |key: Option<&str>| -> Person {
        match key {
            Some(k) => {
                users.get(k).cloned().unwrap_or_else(|| Person { id: k.to_owned(), name: k.to_owned(), email: None })
            }
            None => Person { id: "anonymous".into(), name: "Anonymous".into(), email: None },
        }
    };

    // Bodies by the content they belong to.
    let mut bodies: HashMap<&str, &str> = HashMap::new();
    for b in of("BodyContent") {
        if let Some(content) = b.reference("content") {
            bodies.insert(content, b.text("body").unwrap_or(""));
        }
    }
    let alive = |o: &Object| o.text("contentStatus").is_none_or(|s| s.trim() == "current");
    let in_space = |o: &Object| o.reference("space").is_none_or(|s| s == space_id);

    // Current pages and posts, and the historical versions of each.
    let mut currents: Vec<&Object> = Vec::new();
    let mut historical: HashMap<&str, Vec<&Object>> = HashMap::new();
    for class in ["Page", "BlogPost"] {
        for o in of(class) {
            if !alive(o) {
                continue;
            }
            match o.reference("originalVersion") {
                Some(original) if original != o.id => historical.entry(original).or_default().push(o),
                _ if in_space(o) && o.reference("space").is_some() => currents.push(o),
                _ => {}
            }
        }
    }
    let version_of = |o: &Object| -> Version {
        let number = o.number("version").and_then(|n| u32::try_from(n).ok()).unwrap_or(1);
        let (by, when) = if o.reference("lastModifier").is_some() {
            (person(o.reference("lastModifier")), o.when("lastModificationDate"))
        } else {
            (person(o.reference("creator")), o.when("creationDate"))
        };
        Version {
            number,
            title: o.text("title").unwrap_or("").to_owned(),
            storage: bodies.get(o.id.as_str()).copied().unwrap_or("").to_owned(),
            by,
            when,
            message: o.text("versionComment").unwrap_or("").to_owned(),
        }
    };

    // Labels.
    let labels_by_id: HashMap<&str, &Object> = of("Label").into_iter().map(|l| (l.id.as_str(), l)).collect();
    let mut labels: HashMap<&str, Vec<String>> = HashMap::new();
    for l in of("Labelling") {
        let (Some(label), Some(content)) = (l.reference("label"), l.reference("content")) else { continue };
        let Some(label) = labels_by_id.get(label) else { continue };
        if label.text("namespace").is_some_and(|n| n.trim() == "my") {
            continue;
        }
        if let Some(name) = label.text("name") {
            labels.entry(content).or_default().push(name.to_owned());
        }
    }

    // Inline comments' selected text.
    let mut selections: HashMap<&str, String> = HashMap::new();
    for p in of("ContentProperty") {
        if p.text("name") == Some("inline-original-selection")
            && let Some(content) = p.reference("content")
        {
            selections.insert(content, p.text("stringValue").unwrap_or("").to_owned());
        }
    }
    let mut comments: HashMap<&str, Vec<Comment>> = HashMap::new();
    for c in of("Comment") {
        if !alive(c) || c.reference("originalVersion").is_some_and(|o| o != c.id) {
            continue;
        }
        let Some(container) = c.reference("containerContent") else { continue };
        comments.entry(container).or_default().push(Comment {
            id: c.id.clone(),
            parent: c.reference("parent").map(str::to_owned),
            by: person(c.reference("creator")),
            when: c.when("creationDate"),
            storage: bodies.get(c.id.as_str()).copied().unwrap_or("").to_owned(),
            inline: selections.get(c.id.as_str()).cloned(),
        });
    }

    // Attachments: the current version of each.
    let mut attachments: HashMap<&str, Vec<Attachment>> = HashMap::new();
    for a in of("Attachment") {
        if !alive(a) || a.reference("originalVersion").is_some_and(|o| o != a.id) {
            continue;
        }
        let Some(container) = a.reference("containerContent") else { continue };
        let version = a.number("version").unwrap_or(1);
        let filename = a.text("title").unwrap_or("").to_owned();
        let entry = format!("attachments/{container}/{}/{version}", a.id);
        let data = match source {
            Source::Zip(archive) => Blob::Zip { archive: archive.clone(), entry },
            Source::Folder(dir) => {
                let file = dir.join(&entry);
                if file.is_file() { Blob::File(file) } else { Blob::Missing(format!("{} is not in the export", entry)) }
            }
        };
        attachments.entry(container).or_default().push(Attachment {
            id: a.id.clone(),
            filename,
            by: person(a.reference("lastModifier").or(a.reference("creator"))),
            when: a.when("lastModificationDate"),
            data,
        });
    }

    // The tree: children by parent, siblings by position then title.
    let ids: std::collections::HashSet<&str> = currents.iter().map(|o| o.id.as_str()).collect();
    let mut children: HashMap<Option<&str>, Vec<&Object>> = HashMap::new();
    for o in &currents {
        let parent = if o.class == "Page" { o.reference("parent").filter(|p| ids.contains(p)) } else { None };
        children.entry(parent).or_default().push(o);
    }
    for list in children.values_mut() {
        list.sort_by(|a, b| {
            let pa = a.number("position").unwrap_or(i64::MAX);
            let pb = b.number("position").unwrap_or(i64::MAX);
            pa.cmp(&pb).then_with(|| a.text("title").unwrap_or("").cmp(b.text("title").unwrap_or("")))
        });
    }
    let mut ordered: Vec<&Object> = Vec::new();
    let mut stack: Vec<&Object> = children.get(&None).map(|l| l.iter().rev().copied().collect()).unwrap_or_default();
    while let Some(o) = stack.pop() {
        ordered.push(o);
        if let Some(kids) = children.get(&Some(o.id.as_str())) {
            stack.extend(kids.iter().rev().copied());
        }
    }
    // Pages first, then blog posts.
    ordered.sort_by_key(|o| o.class != "Page");

    let mut contents = Vec::new();
    for o in ordered {
        if !is_content_class(&o.class) {
            continue;
        }
        let mut versions: Vec<Version> =
            historical.get(o.id.as_str()).map(|h| h.iter().map(|v| version_of(v)).collect()).unwrap_or_default();
        versions.push(version_of(o));
        versions.sort_by_key(|v| v.number);
        versions.dedup_by_key(|v| v.number);
        let mut list = comments.remove(o.id.as_str()).unwrap_or_default();
        list.sort_by_key(|c| c.when);
        contents.push(Content {
            id: o.id.clone(),
            kind: if o.class == "BlogPost" { Kind::BlogPost } else { Kind::Page },
            parent: if o.class == "Page" { o.reference("parent").map(str::to_owned) } else { None },
            labels: labels.remove(o.id.as_str()).unwrap_or_default(),
            versions,
            attachments: attachments.remove(o.id.as_str()).unwrap_or_default(),
            comments: list,
        });
    }

    let description = space
        .reference("description")
        .and_then(|d| by_class.get("SpaceDescription").and_then(|all| all.iter().find(|o| o.id == d)))
        .and_then(|d| bodies.get(d.id.as_str()).copied())
        .map(|storage| strip_tags(storage).trim().to_owned())
        .filter(|d| !d.is_empty());
    let mut permissions = Vec::new();
    for p in of("SpacePermission") {
        if p.reference("space") != Some(space_id.as_str()) {
            continue;
        }
        if let (Some(kind), Some(user)) = (p.text("type"), p.reference("userSubject")) {
            permissions.push(Permission { user: person(Some(user)), operation: kind.to_owned() });
        }
    }
    Ok(SpaceData {
        key: space.text("key").unwrap_or("").to_owned(),
        name: space.text("name").unwrap_or("").to_owned(),
        description,
        homepage: space.reference("homePage").map(str::to_owned),
        contents,
        permissions,
        users,
        failures: Vec::new(),
        source: label.to_owned(),
    })
}

/// The text of a small storage body (a space description).
fn strip_tags(storage: &str) -> String {
    match cdo_storage::xhtml::parse(storage) {
        Ok(nodes) => {
            let mut out = String::new();
            for n in &nodes {
                if let cdo_storage::xhtml::Node::Element(e) = n {
                    out.push_str(&e.text());
                    out.push(' ');
                } else if let cdo_storage::xhtml::Node::Text(t) = n {
                    out.push_str(t);
                }
            }
            out
        }
        Err(_) => storage.to_owned(),
    }
}
