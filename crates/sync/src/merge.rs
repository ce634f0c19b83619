//! Three-way merges of text. Lines first; where both sides changed the same lines, characters;
//! what still overlaps is kept from both sides between conflict markers and listed, so a merge
//! never drops a side.

use std::hash::Hash;
use std::time::{Duration, Instant};

use similar::{Algorithm, DiffOp, capture_diff_slices_deadline};

/// How long one diff may take before it settles for a coarser answer (still correct).
const DIFF_DEADLINE: Duration = Duration::from_millis(500);

/// The result of [`merge3`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Merged {
    pub text: String,
    /// Overlapping edits, kept in `text` between markers.
    pub conflicts: Vec<Conflict>,
}

/// Two edits of the same place that could not both be applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conflict {
    /// The line (1-based) of the merged text where the `<<<<<<<` marker is.
    pub line: usize,
    pub base: String,
    pub ours: String,
    pub theirs: String,
}

/// What the conflict markers call each side.
#[derive(Clone, Copy, Debug)]
pub struct Labels<'a> {
    pub ours: &'a str,
    pub theirs: &'a str,
}

impl Default for Labels<'_> {
    fn default() -> Self {
        Labels { ours: "ours", theirs: "theirs" }
    }
}

/// A stretch of the merge: agreed tokens, or both sides' versions of one place.
#[derive(Debug, PartialEq, Eq)]
enum Chunk<'a, T> {
    Agreed(&'a [T]),
    Conflict { base: &'a [T], ours: &'a [T], theirs: &'a [T] },
}

/// For each token of `base`, the index of the same token in `other` if the diff kept it.
fn matches<T: Hash + Eq + Ord>(base: &[T], other: &[T]) -> Vec<Option<usize>> {
    let mut map = vec![None; base.len()];
    let deadline = Instant::now() + DIFF_DEADLINE;
    for op in capture_diff_slices_deadline(Algorithm::Myers, base, other, Some(deadline)) {
        if let DiffOp::Equal { old_index, new_index, len } = op {
            for i in 0..len {
                map[old_index + i] = Some(new_index + i);
            }
        }
    }
    map
}

/// The classic diff3: walk the base; tokens kept by both sides are stable; between two stable
/// tokens, a side that did not change takes the other's version.
fn diff3<'a, T: Hash + Eq + Ord>(base: &'a [T], ours: &'a [T], theirs: &'a [T]) -> Vec<Chunk<'a, T>> {
    let to_ours = matches(base, ours);
    let to_theirs = matches(base, theirs);
    let mut chunks = Vec::new();
    let (mut i, mut j, mut k) = (0, 0, 0);
    loop {
        // The next base token both sides kept, at or after `i`.
        let stable = (i..base.len()).find_map(|b| match (to_ours[b], to_theirs[b]) {
            (Some(o), Some(t)) if o >= j && t >= k => Some((b, o, t)),
            _ => None,
        });
        let (b, o, t) = stable.unwrap_or((base.len(), ours.len(), theirs.len()));
        if b > i || o > j || t > k {
            let (bs, os, ts) = (&base[i..b], &ours[j..o], &theirs[k..t]);
            if os == bs {
                chunks.push(Chunk::Agreed(ts));
            } else if ts == bs || os == ts {
                chunks.push(Chunk::Agreed(os));
            } else {
                chunks.push(Chunk::Conflict { base: bs, ours: os, theirs: ts });
            }
        }
        if stable.is_none() {
            break;
        }
        chunks.push(Chunk::Agreed(&base[b..=b]));
        (i, j, k) = (b + 1, o + 1, t + 1);
    }
    chunks
}

/// Merges `ours` and `theirs`, two edits of `base`.
pub fn merge3(base: &str, ours: &str, theirs: &str, labels: Labels<'_>) -> Merged {
    if ours == theirs || theirs == base {
        return Merged { text: ours.to_owned(), conflicts: Vec::new() };
    }
    if ours == base {
        return Merged { text: theirs.to_owned(), conflicts: Vec::new() };
    }
    let lines = |s: &'_ str| -> Vec<String> { s.split_inclusive('\n').map(str::to_owned).collect() };
    let (b, o, t) = (lines(base), lines(ours), lines(theirs));
    let mut text = String::with_capacity(ours.len().max(theirs.len()));
    let mut conflicts = Vec::new();
    for chunk in diff3(&b, &o, &t) {
        match chunk {
            Chunk::Agreed(lines) => lines.iter().for_each(|l| text.push_str(l)),
            Chunk::Conflict { base, ours, theirs } => {
                let (base, ours, theirs) = (base.concat(), ours.concat(), theirs.concat());
                match merge_chars(&base, &ours, &theirs) {
                    Some(merged) => text.push_str(&merged),
                    None => {
                        if !text.is_empty() && !text.ends_with('\n') {
                            text.push('\n');
                        }
                        let line = text.matches('\n').count() + 1;
                        let side =
                            |s: &str| if s.is_empty() || s.ends_with('\n') { s.to_owned() } else { format!("{s}\n") };
                        text.push_str(&format!(
                            "<<<<<<< {}\n{}=======\n{}>>>>>>> {}\n",
                            labels.ours,
                            side(&ours),
                            side(&theirs),
                            labels.theirs
                        ));
                        conflicts.push(Conflict { line, base, ours, theirs });
                    }
                }
            }
        }
    }
    Merged { text, conflicts }
}

/// The character-wise merge of lines both sides changed, when no character overlaps.
fn merge_chars(base: &str, ours: &str, theirs: &str) -> Option<String> {
    let chars = |s: &str| -> Vec<char> { s.chars().collect() };
    let (b, o, t) = (chars(base), chars(ours), chars(theirs));
    let mut out = String::new();
    for chunk in diff3(&b, &o, &t) {
        match chunk {
            Chunk::Agreed(c) => out.extend(c),
            Chunk::Conflict { .. } => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn merged(base: &str, ours: &str, theirs: &str) -> Merged {
        merge3(base, ours, theirs, Labels::default())
    }

    #[test]
    fn merges_edits_of_different_lines_and_of_the_same_line() {
        let cases = [
            // (base, ours, theirs, expected)
            ("a\nb\nc\n", "A\nb\nc\n", "a\nb\nC\n", "A\nb\nC\n"),
            ("a\nb\nc\n", "a\nb\nc\nd\n", "z\na\nb\nc\n", "z\na\nb\nc\nd\n"),
            ("one two three\n", "ONE two three\n", "one two THREE\n", "ONE two THREE\n"),
            ("a\nb\n", "a\n", "a\nb\n", "a\n"),
            ("x\n", "x\ny\n", "x\ny\n", "x\ny\n"),
            ("", "new\n", "", "new\n"),
            ("a\nb\nc\nd\n", "a\nc\nd\n", "a\nb\nc\nD\n", "a\nc\nD\n"),
        ];
        for (base, ours, theirs, expected) in cases {
            let m = merged(base, ours, theirs);
            assert!(m.conflicts.is_empty(), "{base:?} {ours:?} {theirs:?}: {m:?}");
            assert_eq!(m.text, expected, "{base:?} {ours:?} {theirs:?}");
        }
    }

    #[test]
    fn overlapping_edits_keep_both_sides_between_markers() {
        let m = merge3("a\nsame\nz\n", "a\nmine\nz\n", "a\nyours\nz\n", Labels { ours: "local", theirs: "origin" });
        assert_eq!(m.text, "a\n<<<<<<< local\nmine\n=======\nyours\n>>>>>>> origin\nz\n");
        assert_eq!(m.conflicts.len(), 1);
        assert_eq!(m.conflicts[0].line, 2);
        assert_eq!(m.conflicts[0].ours, "mine\n");
        assert_eq!(m.conflicts[0].theirs, "yours\n");
    }

    #[test]
    fn a_side_without_final_newline_still_gets_whole_marker_lines() {
        let m = merged("x", "mine", "yours");
        assert_eq!(m.text, "<<<<<<< ours\nmine\n=======\nyours\n>>>>>>> theirs\n");
    }
}
