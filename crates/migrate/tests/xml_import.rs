//! An XML space export, built the way Confluence writes one, imported into a space: tree, text,
//! history as commits by the original authors at the original dates, attachments, labels,
//! comments, blog posts, the loss report, and resuming.

use std::collections::HashMap;
use std::path::Path;

use cdo_migrate::model::{Attachment, Blob, Comment, Content, Kind, Person, SpaceData, Version, When};
use cdo_migrate::{Options, write_space, xml_export};

fn person(id: &str, name: &str, email: &str) -> Person {
    Person { id: id.into(), name: name.into(), email: Some(email.into()) }
}

fn when(day: i64) -> When {
    // 2023-03-01 plus `day` days, 09:00 UTC.
    When { seconds: 1_677_661_200 + day * 86_400, offset_minutes: 0 }
}

fn version(number: u32, title: &str, storage: &str, by: &Person, day: i64) -> Version {
    Version {
        number,
        title: title.into(),
        storage: storage.into(),
        by: by.clone(),
        when: when(day),
        message: String::new(),
    }
}

fn site() -> SpaceData {
    let ada = person("8a7f808a", "Ada Lovelace", "ada@example.com");
    let bob = person("8a7f808b", "Bob Stone", "bob@example.com");
    let png = b"\x89PNG\r\n\x1a\nnot really a picture".to_vec();
    let home = Content {
        id: "65537".into(),
        kind: Kind::Page,
        parent: None,
        labels: vec!["Handbook".into()],
        versions: vec![
            version(1, "Home", "<p>Welcome.</p>", &ada, 0),
            version(
                2,
                "Engineering Home",
                "<p>Welcome to engineering &amp; friends.</p>\
                <ac:structured-macro ac:name=\"info\"><ac:rich-text-body><p>Read <ac:link><ri:page ri:content-title=\"Deploying\" /></ac:link> first.</p></ac:rich-text-body></ac:structured-macro>\
                <p><ac:image><ri:attachment ri:filename=\"arch.png\" /></ac:image></p>",
                &bob,
                3,
            ),
        ],
        attachments: vec![Attachment {
            id: "70001".into(),
            filename: "arch.png".into(),
            by: bob.clone(),
            when: when(2),
            data: Blob::Bytes(png.clone()),
        }],
        comments: vec![
            Comment {
                id: "80001".into(),
                parent: None,
                by: bob.clone(),
                when: when(4),
                storage: "<p>Looks good, <ac:link><ri:user ri:userkey=\"8a7f808a\" /></ac:link>.</p>".into(),
                inline: None,
            },
            Comment {
                id: "80002".into(),
                parent: Some("80001".into()),
                by: ada.clone(),
                when: when(5),
                storage: "<p>Thanks!</p>".into(),
                inline: None,
            },
            Comment {
                id: "80003".into(),
                parent: None,
                by: ada.clone(),
                when: when(6),
                storage: "<p>Is this still true?</p>".into(),
                inline: Some("engineering".into()),
            },
        ],
    };
    let deploying = Content {
        id: "65538".into(),
        kind: Kind::Page,
        parent: Some("65537".into()),
        labels: vec!["ops".into(), "runbook".into()],
        versions: vec![
            version(1, "Deploying", "<h2>Steps</h2><ol><li>Build</li><li>Ship</li></ol>", &bob, 1),
            version(
                2,
                "Deploying",
                "<h2>Steps</h2><ol><li>Build</li><li>Test</li><li>Ship</li></ol>\
                <ac:structured-macro ac:name=\"code\"><ac:parameter ac:name=\"language\">bash</ac:parameter><ac:plain-text-body><![CDATA[make deploy ENV=prod # ]]]]><![CDATA[> done]]></ac:plain-text-body></ac:structured-macro>\
                <table><tbody><tr><th>Env</th><th>Owner</th></tr><tr><td>prod</td><td>Ops</td></tr></tbody></table>\
                <ac:structured-macro ac:name=\"mystery-widget\"><ac:parameter ac:name=\"x\">1</ac:parameter></ac:structured-macro>",
                &ada,
                7,
            ),
        ],
        attachments: vec![],
        comments: vec![],
    };
    let faq = Content {
        id: "65539".into(),
        kind: Kind::Page,
        parent: Some("65537".into()),
        labels: vec![],
        versions: vec![version(1, "FAQ", "<p>Ask <a href=\"https://example.com/?a=1&amp;b=2\">here</a>.</p>", &ada, 2)],
        attachments: vec![],
        comments: vec![],
    };
    let post = Content {
        id: "65540".into(),
        kind: Kind::BlogPost,
        parent: None,
        labels: vec![],
        versions: vec![version(
            1,
            "We moved!",
            "<p>See <ac:link><ri:page ri:content-title=\"FAQ\" /></ac:link>.</p>",
            &bob,
            8,
        )],
        attachments: vec![],
        comments: vec![],
    };
    let mut users = HashMap::new();
    users.insert(ada.id.clone(), ada.clone());
    SpaceData {
        key: "ENG".into(),
        name: "Engineering".into(),
        description: Some("How we build & ship".into()),
        homepage: Some("65537".into()),
        contents: vec![home, deploying, faq, post],
        users,
        ..Default::default()
    }
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git").args(args).current_dir(dir).output().expect("git runs");
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8")
}

fn options(history: bool) -> Options {
    Options {
        history,
        migrator: cdo_core::Author { name: "Migrator".into(), email: "it@example.com".into() },
        threads: 2,
        jira: None,
        neighbours: Default::default(),
        batch: 3,
    }
}

#[test]
fn an_xml_export_becomes_a_space_with_its_history() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let zip = tmp.path().join("Confluence-space-export-ENG.xml.zip");
    cdo_migrate::fixture::write_xml_export(&site(), &zip).expect("export written");
    assert!(xml_export::is_xml_export(&zip));

    let data = xml_export::read(&zip, None).expect("export reads");
    assert_eq!((data.key.as_str(), data.name.as_str()), ("ENG", "Engineering"));
    assert_eq!(data.description.as_deref(), Some("How we build & ship"));
    let titles: Vec<&str> = data.contents.iter().map(|c| c.title()).collect();
    assert_eq!(titles, ["Engineering Home", "Deploying", "FAQ", "We moved!"]);
    assert_eq!(data.contents[0].versions.len(), 2);
    assert_eq!(
        data.contents[1].versions[1].storage,
        site().contents[1].versions[1].storage,
        "CDATA split back together"
    );
    assert_eq!(data.contents[0].versions[0].by.email.as_deref(), Some("ada@example.com"));

    let root = tmp.path().join("ENG");
    let mut phases = Vec::new();
    let report = write_space(&root, &data, &options(true), &mut |p| phases.push(p.phase)).expect("written");
    assert!(phases.contains(&"converting") && phases.contains(&"committing"));

    // The tree and the text.
    let home = std::fs::read_to_string(root.join("engineering-home.md")).expect("home page");
    assert!(home.contains("id: \"65537\"") && home.contains("title: Engineering Home"), "{home}");
    assert!(home.contains("labels: [handbook]"), "{home}");
    assert!(home.contains("> [!NOTE]\n> Read [Deploying](engineering-home/deploying.md) first."), "{home}");
    assert!(home.contains("![](engineering-home.attachments/arch.png)"), "{home}");
    assert_eq!(
        std::fs::read(root.join("engineering-home.attachments/arch.png")).expect("attachment beside its page"),
        b"\x89PNG\r\n\x1a\nnot really a picture"
    );
    let deploying = std::fs::read_to_string(root.join("engineering-home/deploying.md")).expect("child page");
    assert!(deploying.contains("```bash\nmake deploy ENV=prod # ]]> done\n```"), "{deploying}");
    assert!(
        deploying.contains("| Env | Owner |\n| --- | --- |\n| prod | Ops |"),
        "table keeps its header: {deploying}"
    );
    assert!(deploying.contains("```confluence\n<ac:structured-macro ac:name=\"mystery-widget\">"), "{deploying}");
    let faq = std::fs::read_to_string(root.join("engineering-home/faq.md")).expect("second child");
    assert!(faq.contains("[here](https://example.com/?a=1&b=2)"), "{faq}");
    let post = std::fs::read_to_string(root.join("blog/2023/we-moved.md")).expect("blog post in its own tree");
    assert!(post.contains("[FAQ](../../engineering-home/faq.md)"), "{post}");

    // Comments, with the reply and the inline anchor.
    let comments = std::fs::read_to_string(root.join("_comments/65537.yaml")).expect("comments file");
    assert!(comments.contains("Looks good, [@Ada Lovelace](mention:8a7f808a?by=userkey)"), "{comments}");
    assert!(comments.contains("parent: '80001'") || comments.contains("parent: \"80001\""), "{comments}");
    assert!(comments.contains("inline: engineering"), "{comments}");

    // History: original authors and dates, in the order it happened.
    let log = git(&root, &["log", "--reverse", "--format=%an|%ae|%ad|%s", "--date=format:%Y-%m-%d"]);
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(
        lines,
        [
            "Migrator|it@example.com|2023-03-01|Create space ENG from Confluence",
            "Ada Lovelace|ada@example.com|2023-03-01|Create \"Home\"",
            "Bob Stone|bob@example.com|2023-03-02|Create \"Deploying\"",
            "Bob Stone|bob@example.com|2023-03-03|Attach arch.png to \"Engineering Home\"",
            "Ada Lovelace|ada@example.com|2023-03-03|Create \"FAQ\"",
            "Bob Stone|bob@example.com|2023-03-04|Update \"Engineering Home\"",
            "Bob Stone|bob@example.com|2023-03-05|Comment on \"Engineering Home\"",
            "Ada Lovelace|ada@example.com|2023-03-06|Comment on \"Engineering Home\"",
            "Ada Lovelace|ada@example.com|2023-03-07|Comment on \"Engineering Home\"",
            "Ada Lovelace|ada@example.com|2023-03-08|Update \"Deploying\"",
            "Bob Stone|bob@example.com|2023-03-09|Create blog post \"We moved!\"",
            lines.last().copied().unwrap_or_default(),
        ]
    );
    assert!(
        lines.last().is_some_and(|l| l.starts_with("Migrator|it@example.com|")
            && l.ends_with("Report on the migration of ENG from Confluence"))
    );
    let first = git(&root, &["show", "HEAD~10:engineering-home.md"]);
    assert!(first.contains("title: Home") && first.contains("Welcome."), "version 1 as it was: {first}");

    // The report: the unknown macro, on the page that has it, in the space and in the summary.
    assert_eq!(report.by_kind().get("macro:mystery-widget"), Some(&1));
    assert!(report.summary().contains("macro:mystery-widget: 1 pages"), "{}", report.summary());
    let page = std::fs::read_to_string(root.join("confluence-migration-report.md")).expect("report page");
    assert!(page.contains("[Deploying](<engineering-home/deploying.md>) | `macro:mystery-widget`"), "{page}");
    let space = std::fs::read_to_string(root.join("space.yaml")).expect("space file");
    assert!(space.contains("homepage: '65537'") || space.contains("homepage: \"65537\""), "{space}");

    // The space opens, and its pages read back through core.
    let mut opened = cdo_core::Space::open(&root, &tmp.path().join("cache.sqlite"), None).expect("opens");
    let id = cdo_core::PageId::parse("65538").expect("id");
    let history = opened.history(&id).expect("history");
    assert_eq!(history.len(), 2);
    assert_eq!(history[0].author.name, "Bob Stone");
    assert!(opened.broken_links().expect("links").is_empty(), "no broken links");
}

#[test]
fn an_interrupted_import_resumes_without_duplicating() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let zip = tmp.path().join("export.zip");
    cdo_migrate::fixture::write_xml_export(&site(), &zip).expect("export written");
    let data = xml_export::read(&zip, None).expect("export reads");
    let whole = tmp.path().join("whole");
    write_space(&whole, &data, &options(true), &mut |_| {}).expect("written");

    // Interrupted after six commits: the branch holds only those.
    let cut = tmp.path().join("cut");
    write_space(&cut, &data, &options(true), &mut |_| {}).expect("written");
    git(&cut, &["reset", "-q", "--hard", "HEAD~6"]);
    assert_eq!(git(&cut, &["rev-list", "--count", "HEAD"]).trim(), "6");
    write_space(&cut, &data, &options(true), &mut |_| {}).expect("resumed");
    let subjects = |dir: &Path| git(dir, &["log", "--reverse", "--format=%an %ad %s", "--date=unix"]);
    let (a, b) = (subjects(&whole), subjects(&cut));
    assert_eq!(a.lines().count(), b.lines().count(), "nothing doubled:\n{a}\n{b}");
    assert_eq!(a.lines().rev().skip(1).collect::<Vec<_>>(), b.lines().rev().skip(1).collect::<Vec<_>>());
    assert_eq!(git(&whole, &["rev-parse", "HEAD^{tree}"]), git(&cut, &["rev-parse", "HEAD^{tree}"]), "same files");
    git(&whole, &["fsck", "--strict", "--no-dangling"]);
    git(&cut, &["fsck", "--strict", "--no-dangling"]);
    assert!(git(&cut, &["status", "--porcelain"]).is_empty(), "the files are checked out");

    // A third run finds everything done.
    let before = git(&cut, &["rev-parse", "HEAD"]);
    write_space(&cut, &data, &options(true), &mut |_| {}).expect("again");
    assert_eq!(git(&cut, &["rev-parse", "HEAD"]), before);

    // A folder that holds some other space is refused, untouched.
    let other = tmp.path().join("other");
    std::fs::create_dir_all(&other).expect("dir");
    git(&other, &["init", "-q"]);
    std::fs::write(other.join("space.yaml"), "key: OTHER\nname: Other\n").expect("write");
    let err = write_space(&other, &data, &options(false), &mut |_| {}).expect_err("refused");
    assert!(err.to_string().contains("choose another"), "{err}");
}

#[test]
fn without_history_each_page_is_one_commit_with_its_attachments() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let zip = tmp.path().join("export.zip");
    cdo_migrate::fixture::write_xml_export(&site(), &zip).expect("export written");
    let data = xml_export::read(&zip, Some("ENG")).expect("export reads");
    let root = tmp.path().join("ENG");
    write_space(&root, &data, &options(false), &mut |_| {}).expect("written");
    let log = git(&root, &["log", "--reverse", "--format=%an|%s"]);
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 7, "{log}");
    assert_eq!(lines[1], "Ada Lovelace|Create \"FAQ\"");
    assert_eq!(lines[2], "Bob Stone|Update \"Engineering Home\"");
    assert_eq!(lines[5], "Migrator|Add 3 comments on 1 pages from Confluence");
    let files = git(&root, &["show", "--name-only", "--format=", "HEAD~4"]);
    assert!(files.contains("engineering-home.attachments/arch.png"), "the page with its attachment: {files}");
    let files = git(&root, &["show", "--name-only", "--format=", "HEAD~1"]);
    assert_eq!(files.trim(), "_comments/65537.yaml");
    assert!(git(&root, &["status", "--porcelain"]).is_empty(), "the files are checked out");
}
