//! The command line, as clap parses it. The contract is in the README and `--help`.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// confluence.do: a team wiki of Markdown pages in git.
#[derive(Parser, Debug)]
#[command(name = "confluence-do", version, about, long_about = None, max_term_width = 100)]
pub struct Cli {
    /// The wiki home (spaces, config, cache) [env: CONFLUENCE_DO_HOME] [default: the OS data folder]
    #[arg(long, global = true, value_name = "DIR")]
    pub home: Option<PathBuf>,
    /// Who is editing, as "Name <email>" [env: CONFLUENCE_DO_USER] [default: the wiki's config, then git's user.name/user.email]
    #[arg(long, global = true, value_name = "USER")]
    pub user: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create, list, add, clone and remove spaces
    #[command(subcommand)]
    Space(SpaceCmd),
    /// Create, show, edit, move, delete and restore pages; history and diffs
    #[command(subcommand)]
    Page(PageCmd),
    /// Sync a space with its git remote: commit edits made on disk, fetch, merge (overlapping
    /// edits are kept between markers and listed), push
    Sync {
        key: String,
        /// The remote to sync with
        #[arg(long, default_value = "origin")]
        remote: String,
        #[arg(long)]
        json: bool,
    },
    /// Migrate spaces from a Confluence site (Cloud, Server or Data Center) over its REST API:
    /// the page tree, attachments, labels, comments, blog posts and, with --history, every
    /// version as a git commit. Run it again after an interruption to resume.
    Migrate {
        /// The site: https://your-site.atlassian.net/wiki, or https://confluence.example.com
        #[arg(long)]
        url: String,
        /// Your e-mail (Cloud) or user name (Server); leave out to use --token as a personal access token
        #[arg(long, env = "CONFLUENCE_EMAIL")]
        email: Option<String>,
        /// An API token (Cloud), password, or personal access token [env: CONFLUENCE_TOKEN]
        #[arg(long, env = "CONFLUENCE_TOKEN", hide_env_values = true)]
        token: String,
        /// The spaces to migrate (repeat for more) [default: every space the account can read]
        #[arg(long = "space", value_name = "KEY")]
        spaces: Vec<String>,
        /// Every version of every page as a git commit by its author at its date
        #[arg(long)]
        history: bool,
        /// The Jira site issue macros link to [default: the site itself on Atlassian Cloud]
        #[arg(long, value_name = "URL")]
        jira_url: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Import a Confluence space export (the XML export zip, which keeps every version and the
    /// comments, or the HTML export zip) as a new space. Run it again to resume.
    Import {
        /// The export: a .zip, or the folder it was unpacked into
        path: std::path::PathBuf,
        /// The new space's key [default: the key in the export]
        #[arg(long)]
        key: Option<String>,
        /// Only the current version of each page
        #[arg(long)]
        no_history: bool,
        /// The Jira site issue macros link to (https://acme.atlassian.net)
        #[arg(long, value_name = "URL")]
        jira_url: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// The page tree of a space
    Tree {
        key: String,
        #[arg(long)]
        json: bool,
    },
    /// The templates of a space
    #[command(subcommand)]
    Template(TemplateCmd),
    /// Links that lead nowhere
    #[command(subcommand)]
    Links(LinksCmd),
    /// Draft a page: documentation of code, a page from a template and notes, meeting notes from
    /// a transcript. Prints the draft (or writes it with --out) for you to edit and publish with
    /// `page create`; nothing is published
    #[command(subcommand)]
    Generate(GenerateCmd),
    /// Keep pages current from files in git repositories: mirror a file (both ways where
    /// asked), an OpenAPI spec as a reference, conventional commits as a changelog
    #[command(subcommand)]
    Docsync(DocsyncCmd),
    /// Check pages are still true: broken links, sections and attachments; paths, symbols and
    /// HTTP routes the space's code repository no longer has (`space code`); pages older than
    /// the code they describe; statements other pages contradict (judged by the configured
    /// model when there is one). Exits 1 when a page is broken
    Check {
        /// The space (all spaces when left out)
        key: Option<String>,
        /// Only this page (id or KEY:Title)
        #[arg(long)]
        page: Option<String>,
        /// Also request external links (10 s timeout each)
        #[arg(long)]
        external: bool,
        /// Judge contradictions without the model even when one is configured
        #[arg(long)]
        no_model: bool,
        #[arg(long)]
        json: bool,
    },
    /// Search pages: words, "phrases", -exclude, label:x, space:KEY, title:x; or --cql
    Search {
        /// What to look for (optional with --cql)
        query: Option<String>,
        /// Only these spaces (repeat for more)
        #[arg(long = "space", value_name = "KEY")]
        spaces: Vec<String>,
        #[arg(long, value_enum, default_value_t = Mode::Hybrid)]
        mode: Mode,
        /// A CQL query, as the Confluence API takes it: space = ENG AND title ~ "deploy" ORDER BY lastmodified DESC
        #[arg(long)]
        cql: Option<String>,
        #[arg(long, default_value_t = 10)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// Ask the wiki: an answer from its pages with the sources it came from, or "the wiki does
    /// not say". Written by the configured model (CONFLUENCE_DO_LLM_URL, or llm in config.yaml)
    /// and checked against the sources; without one, the best sentences, cited
    Ask {
        question: String,
        /// Only these spaces (repeat for more)
        #[arg(long = "space", value_name = "KEY")]
        spaces: Vec<String>,
        /// Answer with the best sentences even when a model is configured
        #[arg(long)]
        no_model: bool,
        #[arg(long)]
        json: bool,
    },
    /// A Model Context Protocol server on standard input/output for coding agents: tools
    /// search, ask, get_page, create_page, update_page, check_freshness
    Mcp,
    /// Pages related to a page: nearest in meaning (by its words without the model)
    Related {
        /// An id or KEY:Title
        page: String,
        #[arg(long, default_value_t = 5)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// Bring the search index up to date (all spaces, or one); --rebuild starts it afresh
    Index {
        key: Option<String>,
        #[arg(long)]
        rebuild: bool,
        #[arg(long)]
        json: bool,
    },
    /// Set up the built-in demo space (Engineering) and show it
    Demo {
        #[arg(long)]
        json: bool,
    },
    /// Run the team server: the web UI, its API and the Confluence REST API
    Serve {
        /// Address to listen on; anything but loopback requires auth
        #[arg(long, default_value = "127.0.0.1:8787")]
        bind: std::net::SocketAddr,
        /// Serve a fresh copy of the demo space from a temporary home
        #[arg(long)]
        demo: bool,
        /// Let anyone who can reach the server read and write (loopback only)
        #[arg(long)]
        no_auth: bool,
        /// Let people without credentials read every space
        #[arg(long)]
        anonymous_read: bool,
        /// The built web UI [env: CONFLUENCE_DO_UI] [default: ui/dist when present]
        #[arg(long, value_name = "DIR")]
        ui: Option<PathBuf>,
        /// Sync spaces that have an `origin` remote every this many seconds (0: only on request)
        #[arg(long, value_name = "SECONDS", default_value_t = 300)]
        sync_every: u64,
        /// Commit live edits after this many seconds without typing
        #[arg(long, value_name = "SECONDS", default_value_t = 3.0)]
        commit_after: f64,
    },
    /// Users of the team server: add, list, remove, grant
    #[command(subcommand)]
    User(UserCmd),
    /// API tokens of the team server's users
    #[command(subcommand)]
    Token(TokenCmd),
}

#[derive(Subcommand, Debug)]
pub enum UserCmd {
    /// Add a user (or update one); by default they may write in every space
    Add {
        email: String,
        #[arg(long)]
        name: String,
        /// May do everything, in every space
        #[arg(long)]
        admin: bool,
        /// May only read (grant writes per space with `user grant`)
        #[arg(long)]
        read_only: bool,
        /// Read a password for the web UI's sign-in from standard input
        #[arg(long)]
        password_stdin: bool,
    },
    /// The users and what they may do
    List {
        #[arg(long)]
        json: bool,
    },
    /// Remove a user with their tokens
    Remove { email: String },
    /// Set what a user may do in a space (KEY or * for all): read, write, admin or none
    Grant { email: String, space: String, level: String },
}

#[derive(Subcommand, Debug)]
pub enum TokenCmd {
    /// Create an API token (shown once); use it as the password of HTTP Basic or as a Bearer token
    Create {
        email: String,
        #[arg(long, default_value = "api")]
        label: String,
    },
    /// A user's tokens (their first characters only)
    List { email: String },
    /// Revoke a token by the id `token list` shows
    Revoke { id: i64 },
}

#[derive(Subcommand, Debug)]
pub enum GenerateCmd {
    /// A reference of a code folder: its HTTP operations (OpenAPI specs, route declarations) and
    /// public items with their doc comments; with a model, an overview first
    Docs {
        /// The space the page is for (its registered code repository is read unless --repo)
        key: String,
        /// The code repository (a local git folder)
        #[arg(long, value_name = "DIR")]
        repo: Option<PathBuf>,
        /// The folder or file in the repository [default: all of it]
        #[arg(long, default_value = "")]
        path: String,
        /// How the model writes the overview: reference, tutorial, overview…
        #[arg(long, default_value = "reference")]
        style: String,
        #[command(flatten)]
        out: DraftOut,
    },
    /// A page from one of the space's templates, its fields filled from notes (`name: value`
    /// lines, or read by the model)
    Page {
        key: String,
        #[arg(long, value_name = "NAME")]
        template: String,
        /// The notes: a file, or - for standard input
        #[arg(long, value_name = "FILE")]
        context: PathBuf,
        #[command(flatten)]
        out: DraftOut,
    },
    /// Meeting notes (attendees, decisions, action items) from a transcript of `Name: words` lines
    Notes {
        key: String,
        /// The transcript: a file, or - for standard input
        #[arg(long, value_name = "FILE")]
        transcript: PathBuf,
        /// The meeting's date [default: today]
        #[arg(long)]
        date: Option<String>,
        #[command(flatten)]
        out: DraftOut,
    },
}

#[derive(Subcommand, Debug)]
pub enum DocsyncCmd {
    /// Register a source for a page (a new one with --title, or an existing one with --page) and
    /// sync it once
    Add {
        key: String,
        /// The repository: a local folder or a git URL (cloned into the cache)
        #[arg(long)]
        repo: String,
        /// The file in the repository (for a changelog: the folder whose commits count)
        #[arg(long, default_value = "")]
        path: String,
        /// mirror, openapi-to-markdown or conventional-commits-to-changelog
        #[arg(long, default_value = "mirror")]
        kind: String,
        /// Page edits become commits in the source repository (mirror of a local repository)
        #[arg(long)]
        two_way: bool,
        /// The branch [default: the repository's HEAD]
        #[arg(long)]
        branch: Option<String>,
        /// The page to keep current (id or KEY:Title)
        #[arg(long, conflicts_with = "title")]
        page: Option<String>,
        /// Create a page with this title for it
        #[arg(long)]
        title: Option<String>,
        /// The new page's parent (id or KEY:Title)
        #[arg(long, requires = "title")]
        parent: Option<String>,
    },
    /// The registered sources
    List {
        #[arg(long)]
        json: bool,
    },
    /// Sync every source (or one) now
    Run {
        #[arg(long)]
        id: Option<u32>,
        #[arg(long)]
        json: bool,
    },
    /// Sync whenever a source repository or a space gets a commit, and at least every --every seconds
    Watch {
        #[arg(long, default_value_t = 300)]
        every: u64,
    },
    /// Forget a source (its page stays)
    Remove { id: u32 },
}

/// Where a draft goes.
#[derive(clap::Args, Debug)]
pub struct DraftOut {
    /// Write the draft's body here (else to standard output)
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Draft without the model even when one is configured
    #[arg(long)]
    pub no_model: bool,
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand, Debug)]
pub enum SpaceCmd {
    /// Create a new space (a git repository with space.yaml and templates)
    Create {
        key: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        description: Option<String>,
        /// Where to create it [default: HOME/spaces/KEY]
        #[arg(long, value_name = "DIR")]
        path: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// List the registered spaces
    List {
        #[arg(long)]
        json: bool,
    },
    /// Register an existing space, or any folder of Markdown pages (a git clone, a project's docs/, a vault)
    Add {
        path: PathBuf,
        #[arg(long)]
        key: Option<String>,
        /// The name to show when the folder has no space.yaml
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Clone a space from a git URL and register it
    Clone {
        url: String,
        #[arg(long)]
        key: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Unregister a space; its files stay where they are
    Remove { key: String },
    /// Write ids into every page that has none, in one commit
    AssignIds { key: String },
    /// Register the code repository (a local git folder) a space documents, for `check`
    Code {
        key: String,
        /// The repository's folder (left out: show the registered one)
        path: Option<PathBuf>,
        /// Forget the registered repository
        #[arg(long, conflicts_with = "path")]
        remove: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum PageCmd {
    /// Create a page (the body from --file, or - for standard input)
    Create {
        key: String,
        #[arg(long)]
        title: Option<String>,
        /// Parent page: an id or KEY:Title
        #[arg(long, value_name = "PAGE")]
        parent: Option<String>,
        #[arg(long = "label", value_name = "LABEL")]
        labels: Vec<String>,
        #[arg(long, value_name = "NAME")]
        template: Option<String>,
        /// A template field value, name=value (repeat for each field)
        #[arg(long = "field", value_name = "NAME=VALUE", requires = "template")]
        fields: Vec<String>,
        #[arg(long, value_name = "FILE")]
        file: Option<PathBuf>,
        /// Position among its siblings (0 = first)
        #[arg(long)]
        position: Option<usize>,
        #[arg(long)]
        json: bool,
    },
    /// Show a page (by id or KEY:Title); `page get` is the same
    #[command(visible_alias = "get")]
    Show {
        page: String,
        #[arg(long, value_enum, default_value_t = Format::Md)]
        format: Format,
        #[arg(long)]
        version: Option<u32>,
        /// Same as --format json
        #[arg(long)]
        json: bool,
    },
    /// Change a page's title (renames its file, rewrites links), body or labels
    Update {
        page: String,
        #[arg(long)]
        title: Option<String>,
        #[arg(long, value_name = "FILE")]
        file: Option<PathBuf>,
        /// The page's labels (replaces them; repeat for each label)
        #[arg(long = "label", value_name = "LABEL")]
        labels: Vec<String>,
        /// Remove every label
        #[arg(long, conflicts_with = "labels")]
        clear_labels: bool,
        /// Refuse the edit if the page is no longer at this version
        #[arg(long, value_name = "N")]
        base_version: Option<u32>,
        #[arg(long)]
        json: bool,
    },
    /// Move a page (and its children) under another page, to the top level, or to a position
    Move {
        page: String,
        #[arg(long, value_name = "PAGE", conflicts_with = "root")]
        parent: Option<String>,
        #[arg(long)]
        root: bool,
        #[arg(long)]
        position: Option<usize>,
        #[arg(long)]
        json: bool,
    },
    /// Delete a page and the pages below it (restore brings them back)
    Delete { page: String },
    /// Bring back a deleted page, or with --version N make version N the newest
    Restore {
        page: String,
        #[arg(long)]
        version: Option<u32>,
        #[arg(long)]
        json: bool,
    },
    /// The versions of a page, newest first
    History {
        page: String,
        #[arg(long)]
        json: bool,
    },
    /// Compare two versions of a page
    Diff {
        page: String,
        #[arg(long)]
        from: u32,
        #[arg(long)]
        to: u32,
        /// Word-level changes instead of a unified diff
        #[arg(long)]
        words: bool,
        #[arg(long)]
        json: bool,
    },
    /// Pages that link to a page
    Backlinks {
        page: String,
        #[arg(long)]
        json: bool,
    },
    /// The children of a page
    Children {
        page: String,
        #[arg(long)]
        json: bool,
    },
    /// The ancestors of a page
    Breadcrumbs {
        page: String,
        #[arg(long)]
        json: bool,
    },
    /// Deleted pages of a space that can be restored
    Trash {
        key: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum TemplateCmd {
    /// List templates with their fields
    List {
        key: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum LinksCmd {
    /// Relative links to missing files and [[titles]] no page has
    Broken {
        key: String,
        #[arg(long)]
        json: bool,
    },
}

/// How search ranks: words, meaning, or both fused.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Keyword,
    Semantic,
    Hybrid,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Md,
    Html,
    Json,
}
