//! Git objects written straight to loose files: the blob, trees and commit of one save.
//!
//! libgit2's loose writer checks whether each object exists (re-scanning the pack folder on
//! every miss), creates a temporary file, links and unlinks it: about 25 system calls per
//! object. The object format is simple and fixed, so a save serialises its objects itself and
//! writes each with one create and one rename. Tests check the bytes against libgit2's.

use std::cell::RefCell;
use std::cmp::Ordering;
use std::collections::HashMap;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use flate2::Compression;
use flate2::write::ZlibEncoder;
use git2::{ObjectType, Oid};

use super::StoreError;
use crate::model::Author;

/// One entry of a tree object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub mode: i32,
    pub oid: Oid,
}

/// Writes objects into a repository's `objects/` folder, remembering the trees it wrote or read
/// (the next save starts from them, and reading them back from disk would cost a file each).
pub struct ObjectWriter {
    dir: PathBuf,
    trees: RefCell<HashMap<Oid, Arc<[Entry]>>>,
    /// One compressor, reset for each object: a new one allocates and clears ~300 KB of state.
    deflate: RefCell<ZlibEncoder<Vec<u8>>>,
}

/// Trees remembered before the memory is cleared (a few saves' worth of paths is enough).
const REMEMBERED_TREES: usize = 4096;

/// Objects smaller than this are stored without compression (git reads any zlib level, and
/// `core.looseCompression 0` writes the same). Compressed or not, such a file takes one 4 KB
/// block, and compressing was a tenth of a save's time; `git gc` compresses them when it packs.
/// Trees are always stored: they are mostly ids, which do not compress (a large folder's tree
/// shrank only to 57% in the MS C++ docs), and compressing them was a seventh of a save there.
const STORED_BELOW: usize = 4000;

impl ObjectWriter {
    /// A writer for the repository whose git folder is `git_dir`.
    pub fn new(git_dir: &Path) -> ObjectWriter {
        let deflate = RefCell::new(ZlibEncoder::new(Vec::new(), Compression::fast()));
        ObjectWriter { dir: git_dir.join("objects"), trees: RefCell::new(HashMap::new()), deflate }
    }

    /// The entries of a tree this writer wrote, if it still remembers them.
    pub fn remembered(&self, tree: Oid) -> Option<Arc<[Entry]>> {
        self.trees.borrow().get(&tree).cloned()
    }

    /// Stores an object and returns its id. Writing an object that exists is harmless.
    pub fn write(&self, kind: ObjectType, data: &[u8]) -> Result<Oid, StoreError> {
        let git = |source| StoreError::Git { context: "hash an object".into(), source };
        let oid = Oid::hash_object(kind, data).map_err(git)?;
        let hex = oid.to_string();
        let (fan, rest) = hex.split_at(2);
        let target = self.dir.join(fan).join(rest);
        let io = |source| StoreError::Io { path: target.clone(), source };
        let header = format!("{} {}\0", kind_name(kind), data.len());
        let bytes = if data.len() < STORED_BELOW || kind == ObjectType::Tree {
            stored(header.as_bytes(), data)
        } else {
            let mut zlib = self.deflate.borrow_mut();
            zlib.write_all(header.as_bytes()).map_err(io)?;
            zlib.write_all(data).map_err(io)?;
            // Finishes this object's stream and starts the next one afresh.
            zlib.reset(Vec::with_capacity(data.len() / 2 + 64)).map_err(io)?
        };
        let tmp = self.dir.join(format!("tmp_cdo_{:016x}", fastrand::u64(..)));
        write_readonly(&tmp, &bytes).map_err(|source| StoreError::Io { path: tmp.clone(), source })?;
        let moved = match fs::rename(&tmp, &target) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                fs::create_dir_all(self.dir.join(fan)).and_then(|()| fs::rename(&tmp, &target))
            }
            other => other,
        };
        if let Err(e) = moved {
            let _ = fs::remove_file(&tmp);
            // Windows does not rename over an existing file: then the object is already there.
            if !target.exists() {
                return Err(io(e));
            }
        }
        Ok(oid)
    }

    /// Stores a tree of `entries` (in any order).
    pub fn tree(&self, mut entries: Vec<Entry>) -> Result<Oid, StoreError> {
        let oid = self.write(ObjectType::Tree, &tree_bytes(&mut entries))?;
        Ok(self.remember(oid, entries.into()))
    }

    /// Keeps the entries of tree `oid` (read from the repository, or written) for the next
    /// reader; a save reads each tree on its path twice (the file's mode, then the edit).
    pub fn remember(&self, oid: Oid, entries: Arc<[Entry]>) -> Oid {
        let mut trees = self.trees.borrow_mut();
        if trees.len() >= REMEMBERED_TREES {
            trees.clear();
        }
        trees.insert(oid, entries);
        oid
    }

    /// Stores a commit.
    pub fn commit(
        &self,
        tree: Oid,
        parents: &[Oid],
        author: &Author,
        time: i64,
        offset_minutes: i32,
        message: &str,
    ) -> Result<Oid, StoreError> {
        self.write(ObjectType::Commit, &commit_bytes(tree, parents, author, time, offset_minutes, message)?)
    }
}

/// A zlib stream of `header` then `data` in stored (uncompressed) deflate blocks.
fn stored(header: &[u8], data: &[u8]) -> Vec<u8> {
    const BLOCK: usize = 65_535;
    let all = [header, data].concat();
    let mut out = Vec::with_capacity(all.len() + 2 + 5 * (all.len() / BLOCK + 1) + 4);
    // CMF 0x78 (deflate, 32 KB window), FLG 0x01 (fastest; 0x7801 is a multiple of 31).
    out.extend_from_slice(&[0x78, 0x01]);
    let mut blocks = all.chunks(BLOCK).peekable();
    if blocks.peek().is_none() {
        out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    }
    while let Some(block) = blocks.next() {
        out.push(u8::from(blocks.peek().is_none()));
        let len = block.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(block);
    }
    out.extend_from_slice(&adler32(&all).to_be_bytes());
    out
}

/// zlib's checksum (RFC 1950).
fn adler32(bytes: &[u8]) -> u32 {
    const MOD: u32 = 65_521;
    let (mut a, mut b) = (1u32, 0u32);
    // 5552 bytes is the most that can be summed before `b` could overflow.
    for chunk in bytes.chunks(5552) {
        for &byte in chunk {
            a += u32::from(byte);
            b += a;
        }
        a %= MOD;
        b %= MOD;
    }
    (b << 16) | a
}

fn kind_name(kind: ObjectType) -> &'static str {
    match kind {
        ObjectType::Tree => "tree",
        ObjectType::Commit => "commit",
        ObjectType::Tag => "tag",
        _ => "blob",
    }
}

#[cfg(unix)]
fn write_readonly(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = fs::OpenOptions::new().write(true).create_new(true).mode(0o444).open(path)?;
    file.write_all(bytes)
}

#[cfg(not(unix))]
fn write_readonly(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = fs::OpenOptions::new().write(true).create_new(true).open(path)?;
    file.write_all(bytes)
}

/// The bytes of a tree object: entries in git's order (folders sort as if their name ended in
/// `/`), each `<octal mode> <name>\0<20-byte id>`.
pub fn tree_bytes(entries: &mut [Entry]) -> Vec<u8> {
    entries.sort_by(git_order);
    let mut out = Vec::with_capacity(entries.len() * 48);
    for e in entries.iter() {
        match e.mode {
            0o100_644 => out.extend_from_slice(b"100644 "),
            0o040_000 => out.extend_from_slice(b"40000 "),
            // Writing into a Vec cannot fail.
            mode => drop(write!(out, "{mode:o} ")),
        }
        out.extend_from_slice(e.name.as_bytes());
        out.push(0);
        out.extend_from_slice(e.oid.as_bytes());
    }
    out
}

/// git's order of tree entries: by name bytes, a folder's name compared as if it ended in `/`.
fn git_order(a: &Entry, b: &Entry) -> Ordering {
    fn key(e: &Entry) -> impl Iterator<Item = u8> + '_ {
        let slash: &[u8] = if e.mode == super::tree_edit::TREE_MODE { b"/" } else { b"" };
        e.name.as_bytes().iter().chain(slash).copied()
    }
    key(a).cmp(key(b))
}

/// Who and when, as git writes it in commits and reflogs: `Name <email> 1700000000 +0100`.
pub fn signature(name: &str, email: &str, time: i64, offset_minutes: i32) -> String {
    let sign = if offset_minutes < 0 { '-' } else { '+' };
    let off = offset_minutes.unsigned_abs();
    format!("{name} <{email}> {time} {sign}{:02}{:02}", off / 60, off % 60)
}

/// The bytes of a commit object, as git writes them.
pub fn commit_bytes(
    tree: Oid,
    parents: &[Oid],
    author: &Author,
    time: i64,
    offset_minutes: i32,
    message: &str,
) -> Result<Vec<u8>, StoreError> {
    let bad = |what: &str| StoreError::Git {
        context: format!("author {author}"),
        source: git2::Error::from_str(&format!("{what} cannot contain '<', '>' or a line break")),
    };
    let forbidden = |s: &str| s.contains(['<', '>', '\n', '\0']);
    if forbidden(&author.name) || author.name.trim().is_empty() {
        return Err(bad("a name"));
    }
    if forbidden(&author.email) {
        return Err(bad("an e-mail address"));
    }
    let who = signature(author.name.trim(), author.email.trim(), time, offset_minutes);
    let mut out = format!("tree {tree}\n");
    for p in parents {
        out.push_str(&format!("parent {p}\n"));
    }
    out.push_str(&format!("author {who}\ncommitter {who}\n\n{message}"));
    if !message.ends_with('\n') {
        out.push('\n');
    }
    Ok(out.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_streams_inflate_to_their_bytes() {
        use std::io::Read as _;
        for len in [0, 1, 3999, 65_535 - 7, 65_535, 200_000] {
            let data: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
            let mut back = Vec::new();
            flate2::read::ZlibDecoder::new(&stored(b"blob 7\0", &data)[..]).read_to_end(&mut back).expect("inflate");
            assert_eq!(back, [&b"blob 7\0"[..], &data].concat(), "length {len}");
        }
        assert_eq!(adler32(b"Wikipedia"), 0x11E6_0398);
    }

    #[test]
    fn trees_and_commits_match_what_libgit2_writes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let repo = git2::Repository::init(dir.path()).expect("init");
        let writer = ObjectWriter::new(repo.path());
        let blob = writer.write(ObjectType::Blob, b"hello\n").expect("blob");
        assert_eq!(blob, repo.blob(b"hello\n").expect("libgit2 blob"));
        let sub = writer.tree(vec![Entry { name: "x.md".into(), mode: 0o100644, oid: blob }]).expect("tree");
        // Names chosen to hit git's folder ordering: "a" (folder) sorts after "a.md" and "a-b".
        let entries = vec![
            Entry { name: "a".into(), mode: 0o40000, oid: sub },
            Entry { name: "a.md".into(), mode: 0o100644, oid: blob },
            Entry { name: "a-b".into(), mode: 0o100755, oid: blob },
            Entry { name: "b".into(), mode: 0o100644, oid: blob },
            Entry { name: "é.md".into(), mode: 0o100644, oid: blob },
        ];
        let ours = writer.tree(entries.clone()).expect("tree");
        let mut builder = repo.treebuilder(None).expect("builder");
        for e in &entries {
            builder.insert(&e.name, e.oid, e.mode).expect("insert");
        }
        assert_eq!(ours, builder.write().expect("libgit2 tree"));
        let author = Author { name: "Ada Lovelace".into(), email: "ada@example.com".into() };
        let ours = writer.commit(ours, &[], &author, 1_700_000_000, -150, "Create \"A\"").expect("commit");
        let sig = git2::Signature::new("Ada Lovelace", "ada@example.com", &git2::Time::new(1_700_000_000, -150))
            .expect("sig");
        let tree = repo.find_tree(builder.write().expect("tree")).expect("tree");
        let theirs = repo.commit(None, &sig, &sig, "Create \"A\"\n", &tree, &[]).expect("libgit2 commit");
        assert_eq!(ours, theirs);
        // What we wrote reads back through libgit2.
        let commit = repo.find_commit(ours).expect("readable");
        assert_eq!(commit.author().name().ok(), Some("Ada Lovelace"));
        assert_eq!(commit.tree().expect("tree").len(), 5);
        assert!(writer.commit(ours, &[], &Author { name: "a<b".into(), email: "x".into() }, 0, 0, "m").is_err());
        // Large objects go through the one compressor, reset between them; libgit2 reads them.
        for fill in [b'x', b'y'] {
            let big: Vec<u8> = (0..50_000u32).map(|i| if i % 97 == 0 { b'\n' } else { fill }).collect();
            let oid = writer.write(ObjectType::Blob, &big).expect("big blob");
            assert_eq!(oid, Oid::hash_object(ObjectType::Blob, &big).expect("hash"));
            assert_eq!(repo.find_blob(oid).expect("readable").content(), &big[..]);
        }
    }
}
