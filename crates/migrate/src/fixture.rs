//! Writes a space as a Confluence XML space export, the way Confluence lays one out
//! (`entities.xml` of Hibernate objects, `exportDescriptor.properties`, attachments under
//! `attachments/<page>/<attachment>/<version>`). No public sample export exists, so the tests and
//! the benchmark build theirs with this.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use crate::MigrateError;
use crate::model::{Blob, Kind, Person, SpaceData, When};

const PAGES: &str = "com.atlassian.confluence.pages";
const USERS: &str = "com.atlassian.confluence.user";

/// Text as CDATA, splitting `]]>` the way Confluence does.
fn cdata(text: &str) -> String {
    format!("<![CDATA[{}]]>", text.replace("]]>", "]]]]><![CDATA[>"))
}

fn date(when: When) -> String {
    jiff::Timestamp::from_second(when.seconds)
        .map(|t| t.strftime("%Y-%m-%d %H:%M:%S.000").to_string())
        .unwrap_or_default()
}

fn reference(out: &mut String, name: &str, class: &str, package: &str, id: &str) {
    let _ = writeln!(
        out,
        "<property name=\"{name}\" class=\"{class}\" package=\"{package}\"><id name=\"id\">{id}</id></property>"
    );
}

fn user_ref(out: &mut String, name: &str, person: &Person) {
    let _ = writeln!(
        out,
        "<property name=\"{name}\" class=\"ConfluenceUserImpl\" package=\"{USERS}\"><id name=\"key\">{}</id></property>",
        cdata(&person.id)
    );
}

fn text(out: &mut String, name: &str, value: &str) {
    let _ = writeln!(out, "<property name=\"{name}\">{}</property>", cdata(value));
}

fn plain(out: &mut String, name: &str, value: impl std::fmt::Display) {
    let _ = writeln!(out, "<property name=\"{name}\">{value}</property>");
}

/// Writes `data` as an XML export zip at `out`. Content ids must be decimal; ids for bodies,
/// labels and the like are made above the largest.
pub fn write_xml_export(data: &SpaceData, out: &Path) -> Result<(), MigrateError> {
    let mut next: u64 = data.contents.iter().filter_map(|c| c.id.parse::<u64>().ok()).max().unwrap_or(1000) + 1_000_000;
    let mut fresh = || {
        next += 1;
        next.to_string()
    };
    let space_id = fresh();
    let mut x = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<hibernate-generic datetime=\"2024-05-01 09:00:00\">\n",
    );

    let mut people: Vec<&Person> = Vec::new();
    for c in &data.contents {
        people.extend(c.versions.iter().map(|v| &v.by));
        people.extend(c.comments.iter().map(|k| &k.by));
        people.extend(c.attachments.iter().map(|a| &a.by));
    }
    people.extend(data.users.values());
    people.sort_by(|a, b| a.id.cmp(&b.id));
    people.dedup_by(|a, b| a.id == b.id);
    for p in &people {
        let _ = writeln!(
            x,
            "<object class=\"ConfluenceUserImpl\" package=\"{USERS}\">\n<id name=\"key\">{}</id>",
            cdata(&p.id)
        );
        let login = p.email.as_deref().and_then(|e| e.split('@').next()).unwrap_or(&p.id);
        text(&mut x, "name", login);
        text(&mut x, "lowerName", &login.to_lowercase());
        x.push_str("</object>\n");
        // Display names and addresses live in the user directory's objects.
        x.push_str("<object class=\"InternalUser\" package=\"com.atlassian.crowd.model.user\">\n");
        let _ = writeln!(x, "<id name=\"id\">{}</id>", fresh());
        text(&mut x, "name", login);
        text(&mut x, "lowerName", &login.to_lowercase());
        text(&mut x, "displayName", &p.name);
        if let Some(email) = &p.email {
            text(&mut x, "emailAddress", email);
        }
        x.push_str("</object>\n");
    }

    let description_id = fresh();
    let _ = writeln!(
        x,
        "<object class=\"Space\" package=\"com.atlassian.confluence.spaces\">\n<id name=\"id\">{space_id}</id>"
    );
    text(&mut x, "name", &data.name);
    text(&mut x, "key", &data.key);
    text(&mut x, "lowerKey", &data.key.to_lowercase());
    let _ = writeln!(
        x,
        "<property name=\"description\" class=\"SpaceDescription\" package=\"com.atlassian.confluence.spaces\"><id name=\"id\">{description_id}</id></property>"
    );
    if let Some(home) = &data.homepage {
        reference(&mut x, "homePage", "Page", PAGES, home);
    }
    text(&mut x, "spaceType", "global");
    x.push_str("</object>\n");
    let _ = writeln!(
        x,
        "<object class=\"SpaceDescription\" package=\"com.atlassian.confluence.spaces\">\n<id name=\"id\">{description_id}</id>\n<property name=\"version\">1</property>\n</object>"
    );
    let body = |x: &mut String, content_id: &str, class: &str, storage: &str, id: String| {
        let _ = writeln!(
            x,
            "<object class=\"BodyContent\" package=\"com.atlassian.confluence.core\">\n<id name=\"id\">{id}</id>"
        );
        text(x, "body", storage);
        reference(
            x,
            "content",
            class,
            if class == "SpaceDescription" { "com.atlassian.confluence.spaces" } else { PAGES },
            content_id,
        );
        plain(x, "bodyType", 2);
        x.push_str("</object>\n");
    };
    if let Some(d) = &data.description {
        let mut escaped = String::new();
        cdo_storage::xhtml::escape(d, &mut escaped);
        body(&mut x, &description_id, "SpaceDescription", &format!("<p>{escaped}</p>"), fresh());
    }

    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    // Siblings keep their order through `position`.
    let mut positions: std::collections::HashMap<Option<&str>, i64> = std::collections::HashMap::new();
    for c in &data.contents {
        let class = if c.kind == Kind::BlogPost { "BlogPost" } else { "Page" };
        let position = positions.entry(c.parent.as_deref()).or_insert(0);
        let count = c.versions.len();
        for (i, v) in c.versions.iter().enumerate() {
            let current = i + 1 == count;
            let id = if current { c.id.clone() } else { fresh() };
            let _ = writeln!(x, "<object class=\"{class}\" package=\"{PAGES}\">\n<id name=\"id\">{id}</id>");
            text(&mut x, "title", &v.title);
            plain(&mut x, "version", v.number);
            user_ref(&mut x, "creator", &c.versions[0].by);
            plain(&mut x, "creationDate", date(c.versions[0].when));
            user_ref(&mut x, "lastModifier", &v.by);
            plain(&mut x, "lastModificationDate", date(v.when));
            text(&mut x, "versionComment", &v.message);
            text(&mut x, "contentStatus", "current");
            if current {
                reference(&mut x, "space", "Space", "com.atlassian.confluence.spaces", &space_id);
                if let Some(parent) = &c.parent {
                    reference(&mut x, "parent", "Page", PAGES, parent);
                }
                if c.kind == Kind::Page {
                    plain(&mut x, "position", *position);
                }
            } else {
                reference(&mut x, "originalVersion", class, PAGES, &c.id);
            }
            x.push_str("</object>\n");
            body(&mut x, &id, class, &v.storage, fresh());
        }
        *position += 1;
        for label in &c.labels {
            let (label_id, labelling) = (fresh(), fresh());
            let _ = writeln!(
                x,
                "<object class=\"Label\" package=\"com.atlassian.confluence.labels\">\n<id name=\"id\">{label_id}</id>"
            );
            text(&mut x, "name", label);
            text(&mut x, "namespace", "global");
            x.push_str("</object>\n");
            let _ = writeln!(
                x,
                "<object class=\"Labelling\" package=\"com.atlassian.confluence.labels\">\n<id name=\"id\">{labelling}</id>"
            );
            reference(&mut x, "label", "Label", "com.atlassian.confluence.labels", &label_id);
            reference(&mut x, "content", class, PAGES, &c.id);
            x.push_str("</object>\n");
        }
        for k in &c.comments {
            let _ = writeln!(x, "<object class=\"Comment\" package=\"{PAGES}\">\n<id name=\"id\">{}</id>", k.id);
            reference(&mut x, "containerContent", class, PAGES, &c.id);
            if let Some(parent) = &k.parent {
                reference(&mut x, "parent", "Comment", PAGES, parent);
            }
            user_ref(&mut x, "creator", &k.by);
            plain(&mut x, "creationDate", date(k.when));
            text(&mut x, "contentStatus", "current");
            plain(&mut x, "version", 1);
            x.push_str("</object>\n");
            body(&mut x, &k.id, "Comment", &k.storage, fresh());
            if let Some(selection) = &k.inline {
                let _ = writeln!(
                    x,
                    "<object class=\"ContentProperty\" package=\"com.atlassian.confluence.content\">\n<id name=\"id\">{}</id>",
                    fresh()
                );
                text(&mut x, "name", "inline-original-selection");
                text(&mut x, "stringValue", selection);
                reference(&mut x, "content", "Comment", PAGES, &k.id);
                x.push_str("</object>\n");
            }
        }
        for a in &c.attachments {
            let _ = writeln!(x, "<object class=\"Attachment\" package=\"{PAGES}\">\n<id name=\"id\">{}</id>", a.id);
            text(&mut x, "title", &a.filename);
            reference(&mut x, "containerContent", class, PAGES, &c.id);
            plain(&mut x, "version", 1);
            user_ref(&mut x, "creator", &a.by);
            user_ref(&mut x, "lastModifier", &a.by);
            plain(&mut x, "lastModificationDate", date(a.when));
            text(&mut x, "contentStatus", "current");
            x.push_str("</object>\n");
            if let Blob::Bytes(bytes) = &a.data {
                files.push((format!("attachments/{}/{}/1", c.id, a.id), bytes.clone()));
            }
        }
    }
    for p in &data.permissions {
        let _ = writeln!(
            x,
            "<object class=\"SpacePermission\" package=\"com.atlassian.confluence.security\">\n<id name=\"id\">{}</id>",
            fresh()
        );
        reference(&mut x, "space", "Space", "com.atlassian.confluence.spaces", &space_id);
        text(&mut x, "type", &p.operation);
        user_ref(&mut x, "userSubject", &p.user);
        x.push_str("</object>\n");
    }
    x.push_str("</hibernate-generic>\n");

    let file = std::fs::File::create(out).map_err(|e| MigrateError::io(out, e))?;
    let mut zip = zip::ZipWriter::new(file);
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    let zip_error = |e: zip::result::ZipError| MigrateError::Export(format!("writing {}: {e}", out.display()));
    let descriptor = format!(
        "#Thu May 01 09:00:00 UTC 2024\nexportType=space\nspaceKey={}\nbackupAttachments=true\ncreatedByBuildNumber=8703\n",
        data.key
    );
    for (name, bytes) in [
        ("entities.xml".to_owned(), x.into_bytes()),
        ("exportDescriptor.properties".to_owned(), descriptor.into_bytes()),
    ]
    .into_iter()
    .chain(files)
    {
        zip.start_file(name, options).map_err(zip_error)?;
        zip.write_all(&bytes).map_err(|e| MigrateError::io(out, e))?;
    }
    zip.finish().map_err(zip_error)?;
    Ok(())
}
