//! The one text analyzer used for indexing, querying and highlighting, so the three agree on
//! what a word is: split on anything that is not a letter or digit (any script), drop very long
//! tokens, lower-case, fold accents to ASCII where they have a plain form, English stemming.
//!
//! Other languages get exact-word matches: their words pass through (folded and lower-cased),
//! and the English stemmer leaves words it does not recognise mostly alone.

use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer, TextAnalyzer,
    TokenStream as _,
};

/// The name the analyzer is registered under in the index.
pub const NAME: &str = "cdo";

/// A fresh analyzer (cheap; tantivy clones them per thread).
pub fn analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(48))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .filter(Stemmer::new(Language::English))
        .build()
}

/// A token of some text: its analysed term and where it sits in the text (byte offsets).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    pub term: String,
    pub from: usize,
    pub to: usize,
}

/// The tokens of `text`, as the index sees them.
pub fn tokens(text: &str) -> Vec<Token> {
    thread_local! {
        // Building the stemmer per call costs more than tokenizing a short text.
        static ANALYZER: std::cell::RefCell<TextAnalyzer> = std::cell::RefCell::new(analyzer());
    }
    ANALYZER.with_borrow_mut(|analyzer| {
        let mut stream = analyzer.token_stream(text);
        let mut out = Vec::new();
        while stream.advance() {
            let t = stream.token();
            out.push(Token { term: t.text.clone(), from: t.offset_from, to: t.offset_to });
        }
        out
    })
}

/// The analysed terms of `text`.
pub fn terms(text: &str) -> Vec<String> {
    tokens(text).into_iter().map(|t| t.term).collect()
}

/// Question and filler words that say nothing about what a page is about; dropped from the
/// words a query ranks by (unless nothing else is left), kept in phrases.
pub fn is_filler(word: &str) -> bool {
    const FILLER: &[&str] = &[
        "a", "about", "an", "and", "are", "as", "at", "be", "by", "can", "could", "did", "do", "does", "for", "from",
        "how", "i", "if", "in", "into", "is", "it", "its", "me", "my", "of", "on", "or", "our", "should", "so", "that",
        "the", "their", "there", "these", "this", "to", "us", "was", "we", "were", "what", "when", "where", "which",
        "who", "why", "will", "with", "would", "you", "your",
    ];
    FILLER.contains(&word.to_lowercase().as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_stemmed_folded_and_split_in_any_script() {
        assert_eq!(terms("Rotating JWT-Tokens"), ["rotat", "jwt", "token"]);
        assert_eq!(terms("Café résumé"), ["cafe", "resum"]);
        // Other scripts: no crash, whole words kept.
        assert_eq!(terms("Привет мир"), ["привет", "мир"]);
        assert_eq!(terms("認証 トークン"), ["認証", "トークン"]);
        let t = tokens("a Deploy");
        assert_eq!((t[1].from, t[1].to), (2, 8));
        assert!(terms(&"x".repeat(500)).is_empty());
    }
}
