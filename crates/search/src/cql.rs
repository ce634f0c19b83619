//! CQL, the Confluence Query Language, as the REST API and power users write it: one parser for
//! the CLI and the server. Parsing is pure (text in, syntax tree or an error pointing at the
//! problem out); [`compile`] turns the tree into an index query.
//!
//! ```text
//! query   = expr [ "ORDER BY" key [ASC|DESC] { "," key [ASC|DESC] } ]
//! expr    = term { OR term }          term = factor { AND factor }
//! factor  = NOT factor | "(" expr ")" | field op value
//! op      = "=" | "!=" | "~" | "!~" | ">" | ">=" | "<" | "<=" | IN | NOT IN
//! value   = "string" | 'string' | word | number | name "(" [values] ")" | "(" values ")"
//! ```

use std::fmt;
use std::ops::Bound;

use tantivy::query::{AllQuery, BooleanQuery, EmptyQuery, Occur, PhrasePrefixQuery, Query, RangeQuery};
use tantivy::{Order, Term};

use crate::analyzer;
use crate::index::{Fields, SearchIndex, Sort, field_phrase, term_query};
use crate::snippet::Marks;

/// A CQL error: what is wrong and where (a character offset into the query).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CqlError {
    pub message: String,
    pub position: usize,
    query: String,
}

impl fmt::Display for CqlError {
    /// `message at column N`, then the query and a caret under the problem.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "CQL: {} (at column {})", self.message, self.position + 1)?;
        writeln!(f, "  {}", self.query)?;
        write!(f, "  {}^", " ".repeat(self.position))
    }
}

impl std::error::Error for CqlError {}

/// A parsed CQL query.
#[derive(Clone, Debug, PartialEq)]
pub struct Cql {
    pub expr: Expr,
    pub order: Vec<(String, Order)>,
}

/// A boolean expression of clauses.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    Clause { field: String, op: Op, values: Vec<Val>, at: usize },
}

/// A comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Contains,
    NotContains,
    Gt,
    Ge,
    Lt,
    Le,
    In,
    NotIn,
}

/// A value: text, or a function call such as `now("-7d")`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Val {
    Text(String),
    Call(String, Vec<String>),
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    Sym(&'static str),
    LParen,
    RParen,
    Comma,
    End,
}

fn lex(query: &str) -> Result<Vec<(Tok, usize)>, CqlError> {
    let err = |message: String, position: usize| CqlError { message, position, query: query.to_owned() };
    let chars: Vec<(usize, char)> = query.char_indices().collect();
    let col = |byte: usize| query[..byte].chars().count();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let (at, c) = chars[i];
        let pos = col(at);
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                out.push((Tok::LParen, pos));
                i += 1;
            }
            ')' => {
                out.push((Tok::RParen, pos));
                i += 1;
            }
            ',' => {
                out.push((Tok::Comma, pos));
                i += 1;
            }
            '"' | '\'' => {
                let mut text = String::new();
                let mut j = i + 1;
                loop {
                    let Some(&(_, d)) = chars.get(j) else {
                        return Err(err(format!("this {c}quoted string{c} is never closed"), pos));
                    };
                    if d == '\\'
                        && let Some(&(_, e)) = chars.get(j + 1)
                    {
                        text.push(e);
                        j += 2;
                        continue;
                    }
                    if d == c {
                        break;
                    }
                    text.push(d);
                    j += 1;
                }
                out.push((Tok::Str(text), pos));
                i = j + 1;
            }
            '=' | '~' => {
                out.push((Tok::Sym(if c == '=' { "=" } else { "~" }), pos));
                i += 1;
            }
            '!' | '<' | '>' => {
                let next = chars.get(i + 1).map(|&(_, d)| d);
                let (sym, len) = match (c, next) {
                    ('!', Some('=')) => ("!=", 2),
                    ('!', Some('~')) => ("!~", 2),
                    ('<', Some('=')) => ("<=", 2),
                    ('>', Some('=')) => (">=", 2),
                    ('<', _) => ("<", 1),
                    ('>', _) => (">", 1),
                    _ => return Err(err("'!' must be followed by '=' or '~'".into(), pos)),
                };
                out.push((Tok::Sym(sym), pos));
                i += len;
            }
            _ => {
                let mut word = String::new();
                while let Some(&(_, d)) = chars.get(i) {
                    if d.is_whitespace() || "()=~!<>,\"'".contains(d) {
                        break;
                    }
                    word.push(d);
                    i += 1;
                }
                out.push((Tok::Word(word), pos));
            }
        }
    }
    out.push((Tok::End, query.chars().count()));
    Ok(out)
}

struct Parser<'q> {
    toks: Vec<(Tok, usize)>,
    i: usize,
    query: &'q str,
}

/// Parses a CQL query.
pub fn parse(query: &str) -> Result<Cql, CqlError> {
    let toks = lex(query)?;
    let mut p = Parser { toks, i: 0, query };
    if matches!(p.peek(), Tok::End) {
        return Err(p.error("the query is empty: write a clause such as space = ENG"));
    }
    let expr = p.or()?;
    let mut order = Vec::new();
    if p.keyword("ORDER") {
        p.i += 1;
        if !p.keyword("BY") {
            return Err(p.error("ORDER must be followed by BY"));
        }
        p.i += 1;
        loop {
            let field = match p.peek().clone() {
                Tok::Word(w) => w,
                _ => return Err(p.error("ORDER BY needs a field (title, created, lastmodified)")),
            };
            p.i += 1;
            let direction = if p.keyword("DESC") {
                p.i += 1;
                Order::Desc
            } else {
                if p.keyword("ASC") {
                    p.i += 1;
                }
                Order::Asc
            };
            order.push((field, direction));
            if matches!(p.peek(), Tok::Comma) {
                p.i += 1;
                continue;
            }
            break;
        }
    }
    if !matches!(p.peek(), Tok::End) {
        return Err(p.error("expected AND, OR or ORDER BY here"));
    }
    Ok(Cql { expr, order })
}

impl Parser<'_> {
    fn peek(&self) -> &Tok {
        self.toks.get(self.i).map_or(&Tok::End, |(t, _)| t)
    }

    fn pos(&self) -> usize {
        self.toks.get(self.i).map_or(self.query.chars().count(), |(_, p)| *p)
    }

    fn error(&self, message: &str) -> CqlError {
        CqlError { message: message.to_owned(), position: self.pos(), query: self.query.to_owned() }
    }

    fn keyword(&self, word: &str) -> bool {
        matches!(self.peek(), Tok::Word(w) if w.eq_ignore_ascii_case(word))
    }

    fn or(&mut self) -> Result<Expr, CqlError> {
        let mut items = vec![self.and()?];
        while self.keyword("OR") {
            self.i += 1;
            items.push(self.and()?);
        }
        Ok(if items.len() == 1 { items.remove(0) } else { Expr::Or(items) })
    }

    fn and(&mut self) -> Result<Expr, CqlError> {
        let mut items = vec![self.not()?];
        while self.keyword("AND") {
            self.i += 1;
            items.push(self.not()?);
        }
        Ok(if items.len() == 1 { items.remove(0) } else { Expr::And(items) })
    }

    fn not(&mut self) -> Result<Expr, CqlError> {
        if self.keyword("NOT") {
            self.i += 1;
            return Ok(Expr::Not(Box::new(self.not()?)));
        }
        if matches!(self.peek(), Tok::LParen) {
            self.i += 1;
            let inner = self.or()?;
            if !matches!(self.peek(), Tok::RParen) {
                return Err(self.error("expected ')' to close the '(' before"));
            }
            self.i += 1;
            return Ok(inner);
        }
        self.clause()
    }

    fn clause(&mut self) -> Result<Expr, CqlError> {
        let at = self.pos();
        let field = match self.peek().clone() {
            Tok::Word(w) if !["AND", "OR", "ORDER"].iter().any(|k| w.eq_ignore_ascii_case(k)) => w,
            Tok::End => return Err(self.error("the query ends where a clause (field operator value) was expected")),
            _ => return Err(self.error("expected a field name such as space, title, text, label or created")),
        };
        self.i += 1;
        let op = match self.peek().clone() {
            Tok::Sym(s) => {
                self.i += 1;
                match s {
                    "=" => Op::Eq,
                    "!=" => Op::Ne,
                    "~" => Op::Contains,
                    "!~" => Op::NotContains,
                    ">" => Op::Gt,
                    ">=" => Op::Ge,
                    "<" => Op::Lt,
                    _ => Op::Le,
                }
            }
            Tok::Word(w) if w.eq_ignore_ascii_case("IN") => {
                self.i += 1;
                Op::In
            }
            Tok::Word(w) if w.eq_ignore_ascii_case("NOT") => {
                self.i += 1;
                if !self.keyword("IN") {
                    return Err(self.error("NOT after a field must be followed by IN"));
                }
                self.i += 1;
                Op::NotIn
            }
            _ => {
                return Err(self.error(&format!("expected an operator after '{field}': = != ~ !~ > >= < <= IN NOT IN")));
            }
        };
        let values = if matches!(op, Op::In | Op::NotIn) {
            if !matches!(self.peek(), Tok::LParen) {
                return Err(self.error("IN needs a list in parentheses: (a, b)"));
            }
            self.i += 1;
            let mut values = vec![self.value()?];
            while matches!(self.peek(), Tok::Comma) {
                self.i += 1;
                values.push(self.value()?);
            }
            if !matches!(self.peek(), Tok::RParen) {
                return Err(self.error("expected ',' or ')' in the IN list"));
            }
            self.i += 1;
            values
        } else {
            vec![self.value()?]
        };
        Ok(Expr::Clause { field, op, values, at })
    }

    fn value(&mut self) -> Result<Val, CqlError> {
        match self.peek().clone() {
            Tok::Str(s) => {
                self.i += 1;
                Ok(Val::Text(s))
            }
            Tok::Word(w) => {
                self.i += 1;
                if matches!(self.peek(), Tok::LParen) {
                    self.i += 1;
                    let mut args = Vec::new();
                    while !matches!(self.peek(), Tok::RParen) {
                        match self.peek().clone() {
                            Tok::Str(s) | Tok::Word(s) => args.push(s),
                            Tok::Comma => {}
                            _ => {
                                return Err(self.error(&format!("expected ')' to close {w}(")));
                            }
                        }
                        self.i += 1;
                    }
                    self.i += 1;
                    return Ok(Val::Call(w, args));
                }
                Ok(Val::Text(w))
            }
            _ => Err(self.error("expected a value: a \"quoted string\", a word, a number or now(\"-7d\")")),
        }
    }
}

/// What a compiled query needs from the world: the time "now" is, and the time zone dates are in.
#[derive(Clone, Debug)]
pub struct Context {
    pub now: jiff::Timestamp,
    pub tz: jiff::tz::TimeZone,
}

impl Default for Context {
    fn default() -> Context {
        Context { now: jiff::Timestamp::now(), tz: jiff::tz::TimeZone::system() }
    }
}

/// Turns CQL into an index query, the order of its results and the words to highlight.
pub fn compile(
    cql: &Cql,
    index: &SearchIndex,
    cx: &Context,
    query: &str,
) -> Result<(Box<dyn Query>, Sort, Marks), CqlError> {
    let mut c = Compiler { index, f: index.fields(), cx, marks: Marks::default(), text: false, query };
    let compiled = c.expr(&cql.expr)?;
    let sort = match cql.order.first() {
        None if c.text => Sort::Relevance,
        None => Sort::Updated(Order::Desc),
        Some((field, order)) => match field.to_lowercase().as_str() {
            "title" => Sort::Title(order.clone()),
            "created" => Sort::Created(order.clone()),
            "lastmodified" | "modified" | "updated" => Sort::Updated(order.clone()),
            other => {
                let at = query.to_lowercase().rfind(other).map_or(0, |b| query[..b].chars().count());
                return Err(CqlError {
                    message: format!("cannot order by '{field}': use title, created or lastmodified"),
                    position: at,
                    query: query.to_owned(),
                });
            }
        },
    };
    Ok((compiled, sort, c.marks))
}

struct Compiler<'a> {
    index: &'a SearchIndex,
    f: Fields,
    cx: &'a Context,
    marks: Marks,
    text: bool,
    query: &'a str,
}

impl Compiler<'_> {
    fn expr(&mut self, e: &Expr) -> Result<Box<dyn Query>, CqlError> {
        Ok(match e {
            Expr::And(items) => {
                let mut clauses = Vec::new();
                for item in items {
                    clauses.push((Occur::Must, self.expr(item)?));
                }
                Box::new(BooleanQuery::new(clauses))
            }
            Expr::Or(items) => {
                let mut clauses = Vec::new();
                for item in items {
                    clauses.push((Occur::Should, self.expr(item)?));
                }
                Box::new(BooleanQuery::new(clauses))
            }
            Expr::Not(inner) => not(self.expr(inner)?),
            Expr::Clause { field, op, values, at } => self.clause(field, *op, values, *at)?,
        })
    }

    fn error(&self, message: String, at: usize) -> CqlError {
        CqlError { message, position: at, query: self.query.to_owned() }
    }

    fn clause(&mut self, field: &str, op: Op, values: &[Val], at: usize) -> Result<Box<dyn Query>, CqlError> {
        let name = field.to_lowercase();
        let f = self.f;
        let texts = |values: &[Val]| -> Result<Vec<String>, CqlError> {
            values
                .iter()
                .map(|v| match v {
                    Val::Text(t) => Ok(t.clone()),
                    Val::Call(name, _) => Err(self.error(format!("{name}() cannot be used with '{field}'"), at)),
                })
                .collect()
        };
        let exact = |field, normalise: fn(&str) -> String, values: Vec<String>| -> Box<dyn Query> {
            any(values.iter().map(|v| term_query(field, &normalise(v))).collect())
        };
        let lower: fn(&str) -> String = str::to_lowercase;
        let same: fn(&str) -> String = str::to_owned;
        let upper: fn(&str) -> String = str::to_uppercase;
        let equality = |q: Box<dyn Query>| -> Result<Box<dyn Query>, CqlError> {
            match op {
                Op::Eq | Op::In => Ok(q),
                Op::Ne | Op::NotIn => Ok(not(q)),
                _ => Err(self.error(format!("'{field}' takes =, !=, IN or NOT IN"), at)),
            }
        };
        match name.as_str() {
            "type" => {
                let wanted = texts(values)?;
                let pages = wanted.iter().any(|t| t.eq_ignore_ascii_case("page"));
                let known = ["page", "blogpost", "comment", "attachment", "space"];
                if let Some(bad) = wanted.iter().find(|t| !known.iter().any(|k| t.eq_ignore_ascii_case(k))) {
                    return Err(
                        self.error(format!("unknown type '{bad}': use page, blogpost, comment or attachment"), at)
                    );
                }
                // The index holds pages; other content types have no results here.
                equality(if pages { Box::new(AllQuery) } else { Box::new(EmptyQuery) })
            }
            "space" | "space.key" => equality(exact(f.space, upper, texts(values)?)),
            "label" | "labels" => equality(exact(f.labels, lower, texts(values)?)),
            "id" | "content" | "content.id" => equality(exact(f.id, same, texts(values)?)),
            "ancestor" => equality(exact(f.ancestors, same, texts(values)?)),
            "parent" => equality(exact(f.parent, same, texts(values)?)),
            "creator" => equality(exact(f.creator, lower, texts(values)?)),
            "contributor" => equality(exact(f.contributor, lower, texts(values)?)),
            "title" => match op {
                Op::Eq | Op::Ne | Op::In | Op::NotIn => equality(exact(f.title_exact, lower, texts(values)?)),
                Op::Contains | Op::NotContains => {
                    let q = self.words(&texts(values)?.join(" "), true)?;
                    Ok(if op == Op::Contains { q } else { not(q) })
                }
                _ => Err(self.error("'title' takes = != ~ !~ IN or NOT IN".into(), at)),
            },
            "text" | "sitesearch" => match op {
                Op::Contains | Op::NotContains => {
                    let q = self.words(&texts(values)?.join(" "), false)?;
                    Ok(if op == Op::Contains { q } else { not(q) })
                }
                _ => Err(self.error(format!("'{field}' takes ~ or !~ (contains)"), at)),
            },
            "created" | "lastmodified" | "modified" | "updated" => {
                let date_field = if name == "created" { f.created } else { f.updated };
                let [value] = values else {
                    return Err(self.error(format!("'{field}' compares with one date"), at));
                };
                let (start, end) = self.date(value, at)?;
                let term = |t: i64| Term::from_field_i64(date_field, t);
                let range = |lo: Bound<Term>, hi: Bound<Term>| -> Box<dyn Query> { Box::new(RangeQuery::new(lo, hi)) };
                Ok(match op {
                    Op::Eq => range(Bound::Included(term(start)), Bound::Excluded(term(end))),
                    Op::Ne => not(range(Bound::Included(term(start)), Bound::Excluded(term(end)))),
                    Op::Gt => range(Bound::Included(term(end)), Bound::Unbounded),
                    Op::Ge => range(Bound::Included(term(start)), Bound::Unbounded),
                    Op::Lt => range(Bound::Unbounded, Bound::Excluded(term(start))),
                    Op::Le => range(Bound::Unbounded, Bound::Excluded(term(end))),
                    _ => return Err(self.error(format!("'{field}' takes = != > >= < <="), at)),
                })
            }
            _ => Err(self.error(
                format!(
                    "unknown field '{field}': use type, space, title, text, siteSearch, label, ancestor, parent, id, \
                     creator, contributor, created or lastmodified"
                ),
                at,
            )),
        }
    }

    /// Words every result must contain (in the title only, or anywhere); `word*` is a prefix.
    fn words(&mut self, text: &str, title_only: bool) -> Result<Box<dyn Query>, CqlError> {
        self.text = true;
        let f = self.f;
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for word in text.split_whitespace() {
            if let Some(prefix) = word.strip_suffix('*') {
                let Some(term) = analyzer::terms(prefix).pop() else { continue };
                self.marks.terms.insert(term.clone());
                let field = if title_only { f.title } else { f.body };
                let mut options: Vec<(Occur, Box<dyn Query>)> =
                    vec![(Occur::Should, Box::new(PhrasePrefixQuery::new(vec![Term::from_field_text(field, &term)])))];
                if !title_only {
                    options.push((
                        Occur::Should,
                        Box::new(PhrasePrefixQuery::new(vec![Term::from_field_text(f.names, &prefix.to_lowercase())])),
                    ));
                }
                clauses.push((Occur::Must, Box::new(BooleanQuery::new(options))));
                continue;
            }
            let terms = analyzer::terms(word);
            self.marks.terms.extend(terms.iter().cloned());
            let query = if title_only { field_phrase(f.title, &terms) } else { self.index.text_query(&terms) };
            if let Some(query) = query {
                let occur = if analyzer::is_filler(word) { Occur::Should } else { Occur::Must };
                clauses.push((occur, query));
            }
        }
        if clauses.is_empty() {
            return Ok(Box::new(EmptyQuery));
        }
        Ok(Box::new(BooleanQuery::new(clauses)))
    }

    /// The half-open span of seconds a date value covers: a day, a minute, or an instant.
    fn date(&self, value: &Val, at: usize) -> Result<(i64, i64), CqlError> {
        match value {
            Val::Call(name, args) => {
                let base = self.cx.now.to_zoned_datetime(self.cx.tz.clone());
                let start_of = |unit: &str| -> Option<jiff::ZonedDateTime> {
                    let day = base.start_of_day().ok()?;
                    match unit {
                        "day" => Some(day),
                        "week" => day
                            .checked_sub(jiff::Span::new().days(i64::from(day.weekday().to_monday_zero_offset())))
                            .ok(),
                        "month" => day.first_of_month().ok(),
                        "year" => day.first_of_year().ok(),
                        _ => None,
                    }
                };
                let instant = match name.to_lowercase().as_str() {
                    "now" => base.clone(),
                    "startofday" => start_of("day").ok_or_else(|| self.error("startOfDay() failed".into(), at))?,
                    "startofweek" => start_of("week").ok_or_else(|| self.error("startOfWeek() failed".into(), at))?,
                    "startofmonth" => {
                        start_of("month").ok_or_else(|| self.error("startOfMonth() failed".into(), at))?
                    }
                    "startofyear" => start_of("year").ok_or_else(|| self.error("startOfYear() failed".into(), at))?,
                    other => {
                        return Err(self.error(
                            format!("unknown function {other}(): use now(\"-7d\"), startOfDay(), startOfWeek(), startOfMonth() or startOfYear()"),
                            at,
                        ));
                    }
                };
                let shifted = match args.first() {
                    Some(offset) => instant
                        .checked_add(parse_offset(offset).ok_or_else(|| {
                            self.error(
                                format!("'{offset}' is not an offset like \"-7d\", \"+2w\", \"-1M\", \"-3h\""),
                                at,
                            )
                        })?)
                        .map_err(|e| self.error(e.to_string(), at))?,
                    None => instant,
                };
                let t = shifted.timestamp().as_second();
                Ok((t, t + 1))
            }
            Val::Text(text) => {
                let normalised = text.trim().replace('/', "-");
                if let Ok(date) = normalised.parse::<jiff::civil::Date>() {
                    let start =
                        date.to_zoned_datetime(self.cx.tz.clone()).map_err(|e| self.error(e.to_string(), at))?;
                    let end = start.tomorrow().map_err(|e| self.error(e.to_string(), at))?;
                    return Ok((start.timestamp().as_second(), end.timestamp().as_second()));
                }
                if let Ok(dt) = normalised.replace(' ', "T").parse::<jiff::civil::DateTime>() {
                    let start = dt.to_zoned_datetime(self.cx.tz.clone()).map_err(|e| self.error(e.to_string(), at))?;
                    let t = start.timestamp().as_second();
                    return Ok((t, t + 60));
                }
                Err(self.error(
                    format!("'{text}' is not a date: write \"2024-01-31\", \"2024-01-31 14:30\" or now(\"-7d\")"),
                    at,
                ))
            }
        }
    }
}

/// `-7d`, `+2w`, `-1M` (months), `-1y`, `-3h`, `-30m`.
fn parse_offset(text: &str) -> Option<jiff::Span> {
    let text = text.trim();
    let (sign, rest) = match text.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, text.strip_prefix('+').unwrap_or(text)),
    };
    let unit = rest.chars().last()?;
    let n: i64 = rest[..rest.len() - unit.len_utf8()].trim().parse().ok()?;
    let n = sign * n;
    let span = jiff::Span::new();
    match unit {
        'y' => span.try_years(n).ok(),
        'M' => span.try_months(n).ok(),
        'w' => span.try_weeks(n).ok(),
        'd' => span.try_days(n).ok(),
        'h' => span.try_hours(n).ok(),
        'm' => span.try_minutes(n).ok(),
        _ => None,
    }
}

fn any(options: Vec<Box<dyn Query>>) -> Box<dyn Query> {
    Box::new(BooleanQuery::new(options.into_iter().map(|q| (Occur::Should, q)).collect()))
}

fn not(query: Box<dyn Query>) -> Box<dyn Query> {
    Box::new(BooleanQuery::new(vec![(Occur::Must, Box::new(AllQuery)), (Occur::MustNot, query)]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_confluence_forms() {
        let cases = [
            "type = page",
            "space = ENG AND title ~ \"deploy\"",
            "space IN (ENG, OPS) and label = adr",
            "text ~ 'token refresh' OR siteSearch ~ rollback",
            "NOT label = draft AND (creator = alice@example.com OR contributor != bob)",
            "lastmodified > now(\"-7d\") ORDER BY lastmodified DESC",
            "created >= \"2024-01-15\" AND created < '2024/02/01 10:30'",
            "ancestor = 1000000000001 AND parent != 2 AND id NOT IN (3, 4)",
            "title !~ draft order by title asc, created desc",
            "label in (\"a b\", c)",
        ];
        for case in cases {
            parse(case).unwrap_or_else(|e| panic!("{case}: {e}"));
        }
        let q = parse("space = ENG AND (label = a OR NOT label = b) ORDER BY created").expect("parse");
        assert_eq!(q.order, [("created".to_owned(), Order::Asc)]);
        let Expr::And(items) = q.expr else { panic!("an AND") };
        assert!(matches!(&items[1], Expr::Or(o) if matches!(o[1], Expr::Not(_))));
    }

    #[test]
    fn malformed_queries_point_at_the_problem() {
        // (query, column of the caret, words the message has)
        let cases = [
            ("", 0, "empty"),
            ("space", 5, "operator"),
            ("space =", 7, "value"),
            ("space = ENG AND", 15, "clause"),
            ("space = ENG label = a", 12, "AND, OR"),
            ("(space = ENG", 12, "')'"),
            ("title ~ \"deploy", 8, "never closed"),
            ("space IN ENG", 9, "parentheses"),
            ("space IN (ENG OPS)", 14, "',' or ')'"),
            ("space ! ENG", 6, "'!'"),
            ("AND = x", 0, "field name"),
            ("space = ENG ORDER title", 18, "BY"),
            ("label NOT x", 10, "IN"),
        ];
        for (query, column, words) in cases {
            let e = parse(query).expect_err(query);
            assert_eq!(e.position, column, "{query}: {e}");
            assert!(e.message.contains(words), "{query}: {}", e.message);
            assert!(e.to_string().lines().count() == 3, "{e}");
        }
    }

    #[test]
    fn arbitrary_text_never_panics() {
        let samples = ["((((", "))))", "\"", "'", "a = (", "a IN (", "x = now(", "= = =", "!", "~~", "é = ü", "a\\"];
        for s in samples {
            let _ = parse(s);
        }
        // Every prefix of a real query, too.
        let query = "space IN (ENG, OPS) AND title ~ \"deploy*\" AND created > now(\"-7d\") ORDER BY title DESC";
        for (i, _) in query.char_indices() {
            let _ = parse(&query[..i]);
        }
    }

    #[test]
    fn offsets() {
        let offset = |s| parse_offset(s).map(jiff::Span::fieldwise);
        assert_eq!(offset("-7d"), Some(jiff::Span::new().days(-7).fieldwise()));
        assert_eq!(offset("+2w"), Some(jiff::Span::new().weeks(2).fieldwise()));
        assert_eq!(offset("1M"), Some(jiff::Span::new().months(1).fieldwise()));
        assert!(offset("-x").is_none() && offset("").is_none());
    }
}
