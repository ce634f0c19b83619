//! A page's live document: a yrs `Doc` whose `Y.Text` named `content` is the Markdown body (no
//! frontmatter) and whose `Y.Map` named `meta` carries the page's id and title, set by the server
//! (clients may read it; the server does not take changes to it back into the file: titles
//! change through the API).

use std::time::{Duration, Instant};

use similar::{Algorithm, DiffOp, capture_diff_slices_deadline};
use yrs::encoding::read::Cursor;
use yrs::updates::decoder::{Decode, DecoderV1};
use yrs::{
    ClientID, Doc, GetString, Map, MapRef, OffsetKind, Options, ReadTxn, StateVector, Text, TextRef, Transact, Update,
};

/// The name of the `Y.Text` holding the Markdown body.
pub const CONTENT: &str = "content";
/// The name of the `Y.Map` holding the page's metadata (`id`, `title`).
pub const META: &str = "meta";

/// What can go wrong with bytes from a peer or the log.
#[derive(Debug, thiserror::Error)]
pub enum DocError {
    #[error("undecodable update: {0}")]
    Decode(String),
    #[error("update refused: {0}")]
    Apply(String),
}

/// What applying a peer's update did.
#[derive(Debug)]
pub struct Applied {
    /// It added or deleted something.
    pub changed: bool,
    /// What it changed as an update, when that is not the update itself: part of it waits for
    /// updates not seen yet, or it let earlier waiting ones in. `None` with `changed`: relay
    /// the update as it came.
    pub effective: Option<Vec<u8>>,
    /// The document waited for missing updates before it, and after it.
    pub pending_before: bool,
    pub pending_after: bool,
}

/// One page's live document.
pub struct LiveDoc {
    doc: Doc,
    text: TextRef,
    meta: MapRef,
}

/// A client id below 2^32, as Yjs makes them.
fn client_id(seed: u64) -> ClientID {
    ClientID::new((seed & 0xFFFF_FFFF).max(1))
}

fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

fn new_doc(id: ClientID) -> Doc {
    let mut options = Options::with_client_id(id);
    options.offset_kind = OffsetKind::Bytes;
    Doc::with_options(options)
}

/// Decodes an update in full before anything touches a document. Decoding is pure; a hostile
/// update that trips an assertion inside yrs is refused like any malformed one.
pub(crate) fn decode_update(bytes: &[u8]) -> Result<Update, DocError> {
    match std::panic::catch_unwind(|| Update::decode_v1(bytes)) {
        Ok(Ok(update)) => Ok(update),
        Ok(Err(e)) => Err(DocError::Decode(e.to_string())),
        Err(_) => Err(DocError::Decode("the update's encoding is out of range".into())),
    }
}

impl LiveDoc {
    /// A document whose text is `body`, made by a client id derived from `body`: two servers (or
    /// one before and after a lost log) that start the same page from the same file make the very
    /// same items, so a client holding the old document merges without doubling the text.
    pub fn seeded(body: &str) -> LiveDoc {
        let seed = new_doc(client_id(fnv1a(body)));
        {
            let text = seed.get_or_insert_text(CONTENT);
            let mut txn = seed.transact_mut();
            if !body.is_empty() {
                text.insert(&mut txn, 0, body);
            }
        }
        let state = seed.transact().encode_state_as_update_v1(&StateVector::default());
        let live = LiveDoc::empty();
        // The seed's own encoding: decoding it cannot fail.
        if let Ok(update) = Update::decode_v1(&state) {
            let _ = live.doc.transact_mut().apply_update(update);
        }
        live
    }

    fn empty() -> LiveDoc {
        let doc = new_doc(client_id(fastrand::u64(..)));
        let text = doc.get_or_insert_text(CONTENT);
        let meta = doc.get_or_insert_map(META);
        LiveDoc { doc, text, meta }
    }

    /// A document from its encoded state (the log's snapshot) and the updates after it.
    pub fn restore<'a>(state: &[u8], updates: impl IntoIterator<Item = &'a [u8]>) -> Result<LiveDoc, DocError> {
        let live = LiveDoc::empty();
        live.apply(state)?;
        for u in updates {
            live.apply(u)?;
        }
        Ok(live)
    }

    pub fn text(&self) -> String {
        self.text.get_string(&self.doc.transact())
    }

    /// Applies a peer's update; returns what it changed (as an update to relay), if anything.
    pub fn apply(&self, bytes: &[u8]) -> Result<Option<Vec<u8>>, DocError> {
        Ok(match self.apply_decoded(decode_update(bytes)?)? {
            Applied { changed: false, .. } => None,
            Applied { effective: Some(part), .. } => Some(part),
            Applied { effective: None, .. } => Some(bytes.to_vec()),
        })
    }

    /// [`LiveDoc::apply`] for an update decoded already, saying what happened.
    pub fn apply_decoded(&self, update: Update) -> Result<Applied, DocError> {
        let mut txn = self.doc.transact_mut();
        let pending_before = txn.has_missing_updates();
        txn.apply_update(update).map_err(|e| DocError::Apply(e.to_string()))?;
        let changed = !txn.insert_set().is_empty() || !txn.delete_set().is_empty();
        let pending_after = txn.has_missing_updates();
        // With nothing waiting before or after, the update went in whole: it is its own effect,
        // and encoding the transaction (a walk of every client the document has known) is
        // needed only when part of it waits or it released something that waited.
        let effective = (changed && (pending_before || pending_after)).then(|| txn.encode_update_v1());
        Ok(Applied { changed, effective, pending_before, pending_after })
    }

    /// The whole document as one update.
    pub fn state(&self) -> Vec<u8> {
        self.doc.transact().encode_state_as_update_v1(&StateVector::default())
    }

    pub fn state_vector(&self) -> StateVector {
        self.doc.transact().state_vector()
    }

    /// What a peer at `sv` lacks.
    pub fn diff(&self, sv: &StateVector) -> Vec<u8> {
        self.doc.transact().encode_diff_v1(sv)
    }

    /// Makes the text `target` with the smallest edits (characters), so that peers' cursors and
    /// concurrent edits elsewhere stay where they are. Returns the update, if anything changed.
    pub fn set_text(&self, target: &str) -> Option<Vec<u8>> {
        let current = self.text();
        if current == target {
            return None;
        }
        let edits = char_edits(&current, target);
        let mut txn = self.doc.transact_mut();
        // From the end, so earlier byte offsets stay valid.
        for (at, remove, insert) in edits.into_iter().rev() {
            let (at, remove) = (to_u32(at), to_u32(remove));
            if remove > 0 {
                self.text.remove_range(&mut txn, at, remove);
            }
            if !insert.is_empty() {
                self.text.insert(&mut txn, at, &insert);
            }
        }
        Some(txn.encode_update_v1())
    }

    /// Sets a metadata key; returns the update if it changed.
    pub fn set_meta(&self, key: &str, value: &str) -> Option<Vec<u8>> {
        let mut txn = self.doc.transact_mut();
        let same = self.meta.get(&txn, key).is_some_and(|v| v.to_string(&txn) == value);
        if same {
            return None;
        }
        self.meta.insert(&mut txn, key, value.to_owned());
        Some(txn.encode_update_v1())
    }

    pub fn meta(&self, key: &str) -> Option<String> {
        let txn = self.doc.transact();
        self.meta.get(&txn, key).map(|v| v.to_string(&txn))
    }
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Edits (byte offset in `old`, bytes removed, text inserted) turning `old` into `new`, in order,
/// found character-wise between the common prefix and suffix.
pub fn char_edits(old: &str, new: &str) -> Vec<(usize, usize, String)> {
    let prefix: usize = old.chars().zip(new.chars()).take_while(|(a, b)| a == b).map(|(a, _)| a.len_utf8()).sum();
    let (old_rest, new_rest) = (&old[prefix..], &new[prefix..]);
    let suffix: usize = old_rest
        .chars()
        .rev()
        .zip(new_rest.chars().rev())
        .take_while(|(a, b)| a == b)
        .map(|(a, _)| a.len_utf8())
        .sum::<usize>()
        .min(old_rest.len())
        .min(new_rest.len());
    let old_mid = &old_rest[..old_rest.len() - suffix];
    let new_mid = &new_rest[..new_rest.len() - suffix];
    let a: Vec<char> = old_mid.chars().collect();
    let b: Vec<char> = new_mid.chars().collect();
    // Byte offsets of each char of `a` (and the end), to turn char indices into byte offsets.
    let mut offsets: Vec<usize> = old_mid.char_indices().map(|(i, _)| i).collect();
    offsets.push(old_mid.len());
    let deadline = Instant::now() + Duration::from_millis(200);
    let mut edits = Vec::new();
    for op in capture_diff_slices_deadline(Algorithm::Myers, &a, &b, Some(deadline)) {
        match op {
            DiffOp::Equal { .. } => {}
            DiffOp::Delete { old_index, old_len, .. } => {
                let start = offsets[old_index];
                edits.push((prefix + start, offsets[old_index + old_len] - start, String::new()));
            }
            DiffOp::Insert { old_index, new_index, new_len } => {
                edits.push((prefix + offsets[old_index], 0, b[new_index..new_index + new_len].iter().collect()));
            }
            DiffOp::Replace { old_index, old_len, new_index, new_len } => {
                let start = offsets[old_index];
                edits.push((
                    prefix + start,
                    offsets[old_index + old_len] - start,
                    b[new_index..new_index + new_len].iter().collect(),
                ));
            }
        }
    }
    edits
}

/// Reads the state vector a peer sent.
pub(crate) fn decode_state_vector(bytes: &[u8]) -> Result<StateVector, DocError> {
    match std::panic::catch_unwind(|| {
        let mut decoder = DecoderV1::new(Cursor::new(bytes));
        StateVector::decode(&mut decoder)
    }) {
        Ok(Ok(sv)) => Ok(sv),
        Ok(Err(e)) => Err(DocError::Decode(e.to_string())),
        Err(_) => Err(DocError::Decode("the state vector is out of range".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_body_seeds_the_same_items_so_old_clients_do_not_double_text() {
        let a = LiveDoc::seeded("Hello\nworld\n");
        let b = LiveDoc::seeded("Hello\nworld\n");
        b.apply(&a.state()).expect("applies");
        assert_eq!(b.text(), "Hello\nworld\n");
        let c = LiveDoc::seeded("Other\n");
        c.apply(&a.state()).expect("applies");
        assert_ne!(c.text(), "Other\n", "different bodies make different items");
    }

    #[test]
    fn set_text_makes_small_edits_that_keep_concurrent_ones() {
        let server = LiveDoc::seeded("alpha beta gamma\n");
        let peer = LiveDoc::restore(&server.state(), []).expect("restores");
        // The peer types at the end while the server replaces a word in the middle.
        let mine = {
            let mut txn = peer.doc.transact_mut();
            peer.text.insert(&mut txn, 17, "delta\n");
            txn.encode_update_v1()
        };
        let theirs = server.set_text("alpha BETA gamma\n").expect("changed");
        server.apply(&mine).expect("applies");
        peer.apply(&theirs).expect("applies");
        assert_eq!(server.text(), "alpha BETA gamma\ndelta\n");
        assert_eq!(peer.text(), server.text());
    }

    #[test]
    fn char_edits_rebuild_the_target_in_any_script() {
        let cases = [
            ("", "abc"),
            ("abc", ""),
            ("héllo wörld", "hello world!"),
            ("日本語テキスト", "日本の語テキ"),
            ("aaa", "aaaa"),
        ];
        for (old, new) in cases {
            let mut text = old.to_owned();
            for (at, remove, insert) in char_edits(old, new).into_iter().rev() {
                text.replace_range(at..at + remove, &insert);
            }
            assert_eq!(text, new, "{old:?} -> {new:?}");
        }
    }

    #[test]
    fn garbage_is_a_decode_error_not_a_panic() {
        let doc = LiveDoc::seeded("x");
        for bytes in
            [&[0xff_u8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f][..], &[1, 1, 0xff, 0xff, 0xff], &[7]]
        {
            assert!(doc.apply(bytes).is_err(), "{bytes:?}");
        }
        assert_eq!(doc.text(), "x");
    }
}
