//! Wildcard patterns (`*`, `?`) with policy variables (`${aws:username}`), parsed once
//! when a policy is parsed and matched without allocating unless a variable must be
//! resolved.
//!
//! Variables follow AWS's "IAM policy elements: Variables and tags": `${key}` and
//! `${key, 'default'}`; `${*}`, `${?}` and `${$}` stand for the literal characters.
//! A value a variable resolves to is always literal text, never a wildcard.

use std::borrow::Cow;

/// Where the values of policy variables come from during evaluation.
pub(crate) trait VariableSource {
    /// The single value of a key (lower case), or None when it is absent or multi-valued.
    fn variable(&self, key_lower: &str) -> Option<String>;
}

/// How the text of a pattern is read.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Syntax {
    /// `*` and `?` are wildcards (otherwise literal).
    pub wildcards: bool,
    /// `${...}` are variables (only with Version 2012-10-17).
    pub variables: bool,
}

#[derive(Debug, Clone, PartialEq)]
enum Segment {
    Literal(Box<str>),
    /// `*`: any sequence of characters, `/` and `:` included.
    AnySequence,
    /// `?`: exactly one character.
    AnyChar,
    /// Index into `Pattern::variables`.
    Variable(usize),
}

#[derive(Debug, Clone, PartialEq)]
struct Variable {
    key_lower: Box<str>,
    default: Option<Box<str>>,
}

/// The common shapes of patterns without variables, matched without the general glob.
#[derive(Debug, Clone, PartialEq)]
enum Shape {
    /// `*`
    Everything,
    /// No wildcard: the text must equal the literal.
    Exact(Box<str>),
    /// `literal*`
    Prefix(Box<str>),
    General,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Pattern {
    source: Box<str>,
    segments: Vec<Segment>,
    variables: Vec<Variable>,
    shape: Shape,
}

impl Pattern {
    pub(crate) fn parse(source: &str, syntax: Syntax) -> Pattern {
        let mut segments = Vec::new();
        let mut variables = Vec::new();
        let mut literal = String::new();
        let flush = |literal: &mut String, segments: &mut Vec<Segment>| {
            if !literal.is_empty() {
                segments.push(Segment::Literal(std::mem::take(literal).into_boxed_str()));
            }
        };
        let mut rest = source;
        while let Some(c) = rest.chars().next() {
            if syntax.variables && rest.starts_with("${") {
                if let Some(close) = rest.find('}') {
                    match parse_variable(&rest[2..close]) {
                        Some(VariableText::Literal(c)) => literal.push(c),
                        Some(VariableText::Key(variable)) => {
                            flush(&mut literal, &mut segments);
                            segments.push(Segment::Variable(variables.len()));
                            variables.push(variable);
                        }
                        // Not a variable AWS would read: the text stays as written.
                        None => literal.push_str(&rest[..=close]),
                    }
                    rest = &rest[close + 1..];
                    continue;
                }
            }
            match c {
                '*' if syntax.wildcards => {
                    flush(&mut literal, &mut segments);
                    // `**` matches what `*` matches; one keeps backtracking linear.
                    if segments.last() != Some(&Segment::AnySequence) {
                        segments.push(Segment::AnySequence);
                    }
                }
                '?' if syntax.wildcards => {
                    flush(&mut literal, &mut segments);
                    segments.push(Segment::AnyChar);
                }
                _ => literal.push(c),
            }
            rest = &rest[c.len_utf8()..];
        }
        flush(&mut literal, &mut segments);
        let shape = match segments.as_slice() {
            [Segment::AnySequence] => Shape::Everything,
            [] => Shape::Exact("".into()),
            [Segment::Literal(l)] => Shape::Exact(l.clone()),
            [Segment::Literal(l), Segment::AnySequence] => Shape::Prefix(l.clone()),
            _ => Shape::General,
        };
        Pattern {
            source: source.into(),
            segments,
            variables,
            shape,
        }
    }

    /// The text as written in the policy.
    pub(crate) fn source(&self) -> &str {
        &self.source
    }

    pub(crate) fn has_variables(&self) -> bool {
        !self.variables.is_empty()
    }

    pub(crate) fn has_wildcards(&self) -> bool {
        self.segments
            .iter()
            .any(|s| matches!(s, Segment::AnySequence | Segment::AnyChar))
    }

    /// Matches a pattern without variables; `ascii_case_insensitive` for action names.
    pub(crate) fn matches_plain(&self, text: &str, ascii_case_insensitive: bool) -> bool {
        debug_assert!(self.variables.is_empty());
        let same = |a: &[u8], b: &[u8]| {
            if ascii_case_insensitive {
                a.eq_ignore_ascii_case(b)
            } else {
                a == b
            }
        };
        match &self.shape {
            Shape::Everything => true,
            Shape::Exact(literal) => same(text.as_bytes(), literal.as_bytes()),
            Shape::Prefix(literal) => text
                .as_bytes()
                .get(..literal.len())
                .is_some_and(|head| same(head, literal.as_bytes())),
            Shape::General => glob(&self.segments, text, &[], ascii_case_insensitive),
        }
    }

    /// Matches after resolving variables; None when a variable has no value and no
    /// default (AWS: the pattern then matches nothing).
    pub(crate) fn matches(&self, text: &str, source: &dyn VariableSource) -> Option<bool> {
        if self.variables.is_empty() {
            return Some(self.matches_plain(text, false));
        }
        let values = self.resolve_variables(source)?;
        Some(glob(&self.segments, text, &values, false))
    }

    /// The text with variables replaced, for patterns read without wildcards.
    pub(crate) fn resolve(&self, source: &dyn VariableSource) -> Option<Cow<'_, str>> {
        if self.variables.is_empty() {
            if let [Segment::Literal(text)] = self.segments.as_slice() {
                return Some(Cow::Borrowed(text));
            }
        }
        let values = self.resolve_variables(source)?;
        let mut out = String::new();
        for segment in &self.segments {
            match segment {
                Segment::Literal(text) => out.push_str(text),
                Segment::AnySequence => out.push('*'),
                Segment::AnyChar => out.push('?'),
                Segment::Variable(i) => out.push_str(&values[*i]),
            }
        }
        Some(Cow::Owned(out))
    }

    fn resolve_variables(&self, source: &dyn VariableSource) -> Option<Vec<String>> {
        self.variables
            .iter()
            .map(|v| {
                source
                    .variable(&v.key_lower)
                    .or_else(|| v.default.as_deref().map(str::to_owned))
            })
            .collect()
    }

    /// The keys of the variables the pattern uses (lower case).
    pub(crate) fn variable_keys(&self) -> impl Iterator<Item = &str> {
        self.variables.iter().map(|v| &*v.key_lower)
    }
}

enum VariableText {
    Literal(char),
    Key(Variable),
}

/// Reads what is between `${` and `}`.
fn parse_variable(inner: &str) -> Option<VariableText> {
    let inner = inner.trim();
    match inner {
        "*" => return Some(VariableText::Literal('*')),
        "?" => return Some(VariableText::Literal('?')),
        "$" => return Some(VariableText::Literal('$')),
        _ => {}
    }
    let (key, default) = match inner.split_once(',') {
        Some((key, default)) => {
            let default = default.trim();
            let quoted = default
                .strip_prefix('\'')
                .and_then(|d| d.strip_suffix('\''))?;
            (key.trim(), Some(quoted.into()))
        }
        None => (inner, None),
    };
    let valid_key = !key.is_empty()
        && key.contains(':')
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_:/.@+= ".contains(&b));
    if !valid_key {
        return None;
    }
    Some(VariableText::Key(Variable {
        key_lower: key.to_ascii_lowercase().into(),
        default,
    }))
}

/// Glob matching with one backtrack point (the last `*`), which is exact for patterns
/// made of literals, `*` and `?`. After a `*`, the next literal is searched for rather
/// than tried at every position, and a trailing `*` matches at once: linear in practice,
/// no allocation.
fn glob(segments: &[Segment], text: &str, values: &[String], ascii_case_insensitive: bool) -> bool {
    let bytes = text.as_bytes();
    let next_char = |at: usize| {
        let mut end = at + 1;
        while end < bytes.len() && !text.is_char_boundary(end) {
            end += 1;
        }
        end
    };
    let same = |a: &[u8], b: &[u8]| {
        if ascii_case_insensitive {
            a.eq_ignore_ascii_case(b)
        } else {
            a == b
        }
    };
    let literal_at = |literal: &str, at: usize| {
        let lit = literal.as_bytes();
        bytes.len() - at >= lit.len() && same(&bytes[at..at + lit.len()], lit)
    };
    // The first position at or after `from` where `literal` occurs.
    let find_literal = |literal: &str, from: usize| -> Option<usize> {
        let lit = literal.as_bytes();
        if ascii_case_insensitive {
            let last = bytes.len().checked_sub(lit.len())?;
            (from..=last).find(|&at| same(&bytes[at..at + lit.len()], lit))
        } else {
            text.get(from..)?.find(literal).map(|at| from + at)
        }
    };
    fn literal_of<'s>(segment: &'s Segment, values: &'s [String]) -> Option<&'s str> {
        match segment {
            Segment::Literal(literal) => Some(literal),
            Segment::Variable(i) => Some(&values[*i]),
            Segment::AnySequence | Segment::AnyChar => None,
        }
    }
    let (mut si, mut ti) = (0usize, 0usize);
    // After a `*`: the segment following it and where in the text it was last tried.
    let mut backtrack: Option<(usize, usize)> = None;
    loop {
        if let Some(segment) = segments.get(si) {
            let advanced = match segment {
                Segment::AnySequence => {
                    if si + 1 == segments.len() {
                        return true;
                    }
                    backtrack = Some((si + 1, ti));
                    si += 1;
                    continue;
                }
                Segment::AnyChar => (ti < bytes.len()).then(|| next_char(ti)),
                literal => {
                    let literal = literal_of(literal, values).unwrap_or_default();
                    literal_at(literal, ti).then(|| ti + literal.len())
                }
            };
            if let Some(next) = advanced {
                si += 1;
                ti = next;
                continue;
            }
        } else if ti == bytes.len() {
            return true;
        }
        match backtrack {
            Some((after_star, tried)) if tried < bytes.len() => {
                let mut next = next_char(tried);
                if let Some(literal) = literal_of(&segments[after_star], values) {
                    match find_literal(literal, next) {
                        Some(at) => next = at,
                        // The literal after the last `*` occurs nowhere later.
                        None => return false,
                    }
                }
                backtrack = Some((after_star, next));
                si = after_star;
                ti = next;
            }
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const WILD: Syntax = Syntax {
        wildcards: true,
        variables: true,
    };

    struct Vars(HashMap<&'static str, &'static str>);
    impl VariableSource for Vars {
        fn variable(&self, key_lower: &str) -> Option<String> {
            self.0.get(key_lower).map(|v| v.to_string())
        }
    }

    fn vars() -> Vars {
        Vars(HashMap::from([
            ("aws:username", "al*ce"),
            ("s3:prefix", "home/"),
        ]))
    }

    fn m(pattern: &str, text: &str) -> Option<bool> {
        Pattern::parse(pattern, WILD).matches(text, &vars())
    }

    #[test]
    fn wildcards() {
        let cases = [
            ("*", "", true),
            ("*", "anything/at:all", true),
            ("arn:aws:s3:::b/*", "arn:aws:s3:::b/x/y", true),
            ("arn:aws:s3:::b/*", "arn:aws:s3:::b", false),
            ("arn:aws:s3:::*", "arn:aws:s3:::b/k", true),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("a?c", "aéc", true),
            ("*a*b*c*", "xxaxxbxxcxx", true),
            ("*a*b*c*", "xxaxxcxxbxx", false),
            ("a*b", "aXXbXXb", true),
            ("a*b", "aXXbXXc", false),
            ("ab", "AB", false),
            ("a**b", "ab", true),
            ("*.txt", "a.txt.txt", true),
        ];
        for (pattern, text, expected) in cases {
            assert_eq!(m(pattern, text), Some(expected), "{pattern} vs {text}");
        }
    }

    #[test]
    fn ascii_case_insensitive_actions() {
        let p = Pattern::parse(
            "s3:get*",
            Syntax {
                wildcards: true,
                variables: false,
            },
        );
        assert!(p.matches_plain("s3:GetObject", true));
        assert!(!p.matches_plain("s3:PutObject", true));
        assert!(!p.matches_plain("s3:GetObject", false));
    }

    #[test]
    fn variables_are_literal_values() {
        // The user name contains `*`, which must not act as a wildcard.
        assert_eq!(m("home/${aws:username}/*", "home/al*ce/x"), Some(true));
        assert_eq!(m("home/${aws:username}/*", "home/alXce/x"), Some(false));
        assert_eq!(m("${s3:prefix}${*}", "home/*"), Some(true));
        assert_eq!(m("${s3:prefix}${*}", "home/x"), Some(false));
        assert_eq!(m("a${?}b${$}", "a?b$"), Some(true));
        assert_eq!(m("home/${aws:missing}/*", "home/x/y"), None);
        assert_eq!(
            m("home/${aws:missing, 'guest'}/*", "home/guest/y"),
            Some(true)
        );
        assert_eq!(m("home/${ AWS:UserName }", "home/al*ce"), Some(true));
        // Tag keys may contain spaces.
        assert_eq!(m("${aws:PrincipalTag/cost center, 'x'}", "x"), Some(true));
        // Malformed variables stay text.
        assert_eq!(m("a${notakey}", "a${notakey}"), Some(true));
        assert_eq!(m("a${aws:x", "a${aws:x"), Some(true));
    }

    #[test]
    fn without_variables_the_text_is_literal() {
        let p = Pattern::parse(
            "home/${aws:username}/*",
            Syntax {
                wildcards: true,
                variables: false,
            },
        );
        assert!(!p.has_variables());
        assert!(p.matches_plain("home/${aws:username}/x", false));
    }

    #[test]
    fn resolve_without_wildcards() {
        let p = Pattern::parse(
            "x-${aws:username}-*",
            Syntax {
                wildcards: false,
                variables: true,
            },
        );
        assert_eq!(p.resolve(&vars()).as_deref(), Some("x-al*ce-*"));
        assert!(!p.has_wildcards());
    }
}
