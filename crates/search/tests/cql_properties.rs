//! CQL never panics: any text parses or gets an error that points inside it, and whatever
//! parses compiles and runs against a real index.

use cdo_search::SearchIndex;
use cdo_search::cql::{self, Context};
use proptest::prelude::*;

/// Pieces CQL is made of, so random queries get past the first token.
fn cql_soup() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "type",
        "space",
        "title",
        "text",
        "siteSearch",
        "label",
        "ancestor",
        "parent",
        "id",
        "content",
        "creator",
        "contributor",
        "created",
        "lastmodified",
        "space.key",
        "=",
        "!=",
        "~",
        "!~",
        ">",
        ">=",
        "<",
        "<=",
        "IN",
        "NOT",
        "AND",
        "OR",
        "(",
        ")",
        ",",
        "\"",
        "\"deploy\"",
        "'x'",
        "ENG",
        "page",
        "now(\"-7d\")",
        "now(",
        "\"2024-01-15\"",
        "\"2024-13-45\"",
        "ORDER BY",
        "title",
        "DESC",
        "ASC",
        "123",
        "-",
        "\\",
        "é",
        " ",
        " ",
        " ",
    ]);
    prop::collection::vec(pieces, 0..24).prop_map(|v| v.join(" "))
}

/// Clauses that mostly parse: `field op value` joined by AND/OR, maybe ordered.
fn clauses() -> impl Strategy<Value = String> {
    let field = prop::sample::select(vec![
        "type",
        "space",
        "title",
        "text",
        "label",
        "ancestor",
        "parent",
        "id",
        "creator",
        "created",
        "lastmodified",
    ]);
    let op = prop::sample::select(vec!["=", "!=", "~", "!~", ">", "<=", "IN", "NOT IN"]);
    let value = prop::sample::select(vec![
        "\"deploy\"",
        "ENG",
        "page",
        "123",
        "now(\"-7d\")",
        "\"2024-01-15\"",
        "(ENG, OPS)",
        "\"x y\"",
        "\"\"",
    ]);
    let clause = (field, op, value).prop_map(|(f, o, v)| format!("{f} {o} {v}"));
    (prop::collection::vec(clause, 1..5), prop::sample::select(vec![" AND ", " OR ", " AND NOT "]), any::<bool>())
        .prop_map(|(cs, join, order)| format!("{}{}", cs.join(join), if order { " ORDER BY title DESC" } else { "" }))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn parsing_never_panics(query in prop_oneof![cql_soup(), any::<String>()]) {
        match cql::parse(&query) {
            Ok(_) => {}
            Err(e) => {
                prop_assert!(e.position <= query.chars().count(), "{e:?} for {query:?}");
                prop_assert!(e.to_string().contains('^'));
            }
        }
    }
}

#[test]
fn whatever_parses_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let index = SearchIndex::open(dir.path()).expect("index");
    let cx = Context::default();
    // A fixed seed: how many of the generated queries parse must not vary from run to run
    // (with a fresh seed each run, one in a few dozen fell under the threshold below).
    let rng = proptest::test_runner::TestRng::deterministic_rng(proptest::test_runner::RngAlgorithm::ChaCha);
    let mut runner = proptest::test_runner::TestRunner::new_with_rng(ProptestConfig::with_cases(1500), rng);
    let parsed = std::cell::Cell::new(0);
    runner
        .run(&prop_oneof![cql_soup(), clauses()], |query| {
            if cql::parse(&query).is_ok() {
                parsed.set(parsed.get() + 1);
                // Compiling can still refuse (a date that is no date): an error, never a panic.
                let _ = index.cql_page(&query, &cx, None, 0, 10);
                let _ = index.cql_page(&query, &cx, Some(&["ENG".to_owned()]), 3, 5);
            }
            Ok(())
        })
        .expect("no panic");
    assert!(parsed.get() > 300, "the generator must reach the compiler: {} parsed", parsed.get());
}
