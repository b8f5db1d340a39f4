//! The Condition element: operators, their values parsed at policy-parse time, and
//! their evaluation against the request context.
//!
//! Follows AWS's "IAM JSON policy elements: Condition operators": keys are
//! case-insensitive, values case-sensitive (except the IgnoreCase operators); values
//! of one key are ORed, keys and operators ANDed; a missing key makes positive
//! operators false and negated ones true, `...IfExists` makes it true, and the
//! `ForAnyValue:` / `ForAllValues:` prefixes quantify over a multi-valued key.

use crate::pattern::{Pattern, Syntax, VariableSource};
use crate::policy::Problem;
use crate::values::{decode_base64, parse_bool, parse_date, parse_number, IpRange};
use serde_json::Value;
use std::net::IpAddr;

/// What evaluation needs from the request: variables and the values of keys.
pub(crate) trait ConditionContext: VariableSource {
    /// All values of a key (lower case); None when the request does not have it.
    fn key_values(&self, key_lower: &str) -> Option<Vec<String>>;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SetQuantifier {
    ForAnyValue,
    ForAllValues,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Comparison {
    Equals,
    LessThan,
    LessThanEquals,
    GreaterThan,
    GreaterThanEquals,
}

impl Comparison {
    fn holds<T: PartialOrd>(self, request: T, policy: T) -> bool {
        match self {
            Comparison::Equals => request == policy,
            Comparison::LessThan => request < policy,
            Comparison::LessThanEquals => request <= policy,
            Comparison::GreaterThan => request > policy,
            Comparison::GreaterThanEquals => request >= policy,
        }
    }
}

/// A positive test and the policy values it compares with.
#[derive(Debug, Clone)]
enum Test {
    StringEquals(Vec<Pattern>),
    StringEqualsIgnoreCase(Vec<Pattern>),
    StringLike(Vec<Pattern>),
    Numeric(Comparison, Vec<f64>),
    Date(Comparison, Vec<i64>),
    Bool(Vec<bool>),
    BinaryEquals(Vec<Vec<u8>>),
    IpAddress(Vec<IpRange>),
    /// ArnEquals and ArnLike alike: each colon-separated part matched on its own.
    ArnLike(Vec<Vec<Pattern>>),
    /// `true`: the key must be absent; `false`: present.
    Null(Vec<bool>),
}

#[derive(Debug, Clone, Copy)]
enum TestKind {
    StringEquals,
    StringEqualsIgnoreCase,
    StringLike,
    Numeric(Comparison),
    Date(Comparison),
    Bool,
    BinaryEquals,
    IpAddress,
    Arn,
    Null,
}

/// The base operator names AWS defines: the test, and whether it is negated.
fn base_operator(name: &str) -> Option<(TestKind, bool)> {
    use Comparison::*;
    use TestKind as K;
    Some(match name {
        "StringEquals" => (K::StringEquals, false),
        "StringNotEquals" => (K::StringEquals, true),
        "StringEqualsIgnoreCase" => (K::StringEqualsIgnoreCase, false),
        "StringNotEqualsIgnoreCase" => (K::StringEqualsIgnoreCase, true),
        "StringLike" => (K::StringLike, false),
        "StringNotLike" => (K::StringLike, true),
        "NumericEquals" => (K::Numeric(Equals), false),
        "NumericNotEquals" => (K::Numeric(Equals), true),
        "NumericLessThan" => (K::Numeric(LessThan), false),
        "NumericLessThanEquals" => (K::Numeric(LessThanEquals), false),
        "NumericGreaterThan" => (K::Numeric(GreaterThan), false),
        "NumericGreaterThanEquals" => (K::Numeric(GreaterThanEquals), false),
        "DateEquals" => (K::Date(Equals), false),
        "DateNotEquals" => (K::Date(Equals), true),
        "DateLessThan" => (K::Date(LessThan), false),
        "DateLessThanEquals" => (K::Date(LessThanEquals), false),
        "DateGreaterThan" => (K::Date(GreaterThan), false),
        "DateGreaterThanEquals" => (K::Date(GreaterThanEquals), false),
        "Bool" => (K::Bool, false),
        "BinaryEquals" => (K::BinaryEquals, false),
        "IpAddress" => (K::IpAddress, false),
        "NotIpAddress" => (K::IpAddress, true),
        "ArnEquals" | "ArnLike" => (K::Arn, false),
        "ArnNotEquals" | "ArnNotLike" => (K::Arn, true),
        "Null" => (K::Null, false),
        _ => return None,
    })
}

/// Splits `ForAnyValue:StringLikeIfExists` into its quantifier, test, negation and
/// IfExists; None for a name AWS does not define (Null takes no IfExists).
fn operator_parts(name: &str) -> Option<(Option<SetQuantifier>, TestKind, bool, bool)> {
    let (set, base) = match name.split_once(':') {
        Some(("ForAnyValue", base)) => (Some(SetQuantifier::ForAnyValue), base),
        Some(("ForAllValues", base)) => (Some(SetQuantifier::ForAllValues), base),
        Some(_) => return None,
        None => (None, name),
    };
    let (base, if_exists) = match base.strip_suffix("IfExists") {
        Some(base) => (base, true),
        None => (base, false),
    };
    let (kind, negated) = base_operator(base)?;
    if if_exists && matches!(kind, TestKind::Null) {
        return None;
    }
    Some((set, kind, negated, if_exists))
}

/// Whether AWS defines this condition operator.
pub(crate) fn is_operator(name: &str) -> bool {
    operator_parts(name).is_some()
}

/// One `Operator: { Key: values }` pair of a Condition block.
#[derive(Debug, Clone)]
pub(crate) struct Condition {
    key_lower: Box<str>,
    test: Test,
    negated: bool,
    if_exists: bool,
    set: Option<SetQuantifier>,
}

impl Condition {
    /// Parses one operator/key/values triple; `variables` is true for Version 2012-10-17.
    pub(crate) fn parse<'a>(
        operator: &'a str,
        key: &'a str,
        values: &'a Value,
        variables: bool,
    ) -> Result<Condition, Problem<'a>> {
        let (set, kind, negated, if_exists) =
            operator_parts(operator).ok_or(Problem::InvalidConditionType(operator))?;
        if !key.contains(':') || key.starts_with(':') {
            return Err(Problem::InvalidConditionKey);
        }
        let texts = value_texts(values).ok_or(Problem::InvalidCondition)?;
        let bad = |value: &str| Problem::InvalidConditionValue {
            operator,
            value: value.to_owned(),
        };
        let string_syntax = |wildcards| Syntax {
            wildcards,
            variables,
        };
        let patterns = |wildcards| {
            texts
                .iter()
                .map(|t| Pattern::parse(t, string_syntax(wildcards)))
                .collect::<Vec<_>>()
        };
        let test = match kind {
            TestKind::StringEquals => Test::StringEquals(patterns(false)),
            TestKind::StringEqualsIgnoreCase => Test::StringEqualsIgnoreCase(patterns(false)),
            TestKind::StringLike => Test::StringLike(patterns(true)),
            TestKind::Numeric(cmp) => Test::Numeric(
                cmp,
                texts
                    .iter()
                    .map(|t| parse_number(t).ok_or_else(|| bad(t)))
                    .collect::<Result<_, _>>()?,
            ),
            TestKind::Date(cmp) => Test::Date(
                cmp,
                texts
                    .iter()
                    .map(|t| parse_date(t).ok_or_else(|| bad(t)))
                    .collect::<Result<_, _>>()?,
            ),
            TestKind::Bool => Test::Bool(
                texts
                    .iter()
                    .map(|t| parse_bool(t).ok_or_else(|| bad(t)))
                    .collect::<Result<_, _>>()?,
            ),
            TestKind::Null => Test::Null(
                texts
                    .iter()
                    .map(|t| parse_bool(t).ok_or_else(|| bad(t)))
                    .collect::<Result<_, _>>()?,
            ),
            TestKind::BinaryEquals => Test::BinaryEquals(
                texts
                    .iter()
                    .map(|t| decode_base64(t).ok_or_else(|| bad(t)))
                    .collect::<Result<_, _>>()?,
            ),
            TestKind::IpAddress => Test::IpAddress(
                texts
                    .iter()
                    .map(|t| IpRange::parse(t).ok_or_else(|| bad(t)))
                    .collect::<Result<_, _>>()?,
            ),
            TestKind::Arn => Test::ArnLike(
                texts
                    .iter()
                    .map(|t| {
                        split_arn_pattern(t)
                            .into_iter()
                            .map(|part| Pattern::parse(part, string_syntax(true)))
                            .collect()
                    })
                    .collect(),
            ),
        };
        Ok(Condition {
            key_lower: key.to_ascii_lowercase().into(),
            test,
            negated,
            if_exists,
            set,
        })
    }

    pub(crate) fn key_lower(&self) -> &str {
        &self.key_lower
    }

    /// The keys of the variables in the condition's values (lower case).
    pub(crate) fn variable_keys(&self) -> Vec<&str> {
        let patterns: Vec<&Pattern> = match &self.test {
            Test::StringEquals(p) | Test::StringEqualsIgnoreCase(p) | Test::StringLike(p) => {
                p.iter().collect()
            }
            Test::ArnLike(arns) => arns.iter().flatten().collect(),
            _ => Vec::new(),
        };
        patterns
            .into_iter()
            .flat_map(|p| p.variable_keys())
            .collect()
    }

    /// Evaluates the condition against the request.
    pub(crate) fn holds(&self, context: &dyn ConditionContext) -> bool {
        let values = context.key_values(&self.key_lower);
        if let Test::Null(expected) = &self.test {
            let absent = values.as_ref().is_none_or(Vec::is_empty);
            return expected.contains(&absent);
        }
        let values = match values {
            Some(values) if !values.is_empty() => values,
            _ => {
                return match (self.if_exists, self.set) {
                    (true, _) => true,
                    (false, Some(SetQuantifier::ForAllValues)) => true,
                    (false, Some(SetQuantifier::ForAnyValue)) => false,
                    // AWS: a missing key fails positive operators, satisfies negated ones.
                    (false, None) => self.negated,
                };
            }
        };
        let satisfies = |value: &String| self.test.matches_any(value, context) != self.negated;
        match self.set {
            Some(SetQuantifier::ForAnyValue) => values.iter().any(satisfies),
            Some(SetQuantifier::ForAllValues) => values.iter().all(satisfies),
            // A negated operator requires that no request value matches a policy value.
            None if self.negated => values.iter().all(satisfies),
            None => values.iter().any(satisfies),
        }
    }

    /// For AWS's "meaning of public": whether the condition pins the key to specific
    /// values the caller cannot choose (no wildcard, no negation, no IfExists, no set
    /// quantifier, no variable, no very broad address range).
    pub(crate) fn pins_key_to_fixed_values(&self) -> bool {
        if self.negated || self.if_exists || self.set.is_some() {
            return false;
        }
        let fixed_text = |p: &Pattern| {
            if p.has_variables() {
                return false;
            }
            let text = p.source();
            if !text.contains(['*', '?']) {
                return true;
            }
            // AWS counts a role's session ids, "AROLEID:*", as fixed.
            &*self.key_lower == "aws:userid"
                && text
                    .strip_suffix(":*")
                    .is_some_and(|id| !id.is_empty() && !id.contains(['*', '?', ':']))
        };
        match &self.test {
            Test::StringEquals(values)
            | Test::StringEqualsIgnoreCase(values)
            | Test::StringLike(values) => values.iter().all(fixed_text),
            Test::ArnLike(values) => values.iter().all(|parts| {
                parts
                    .iter()
                    .all(|p| !p.has_variables() && !p.has_wildcards())
            }),
            // Ranges wider than a /8 (IPv4) or /32 (IPv6) hold a large part of the
            // internet; AWS's examples count 0.0.0.0/1 as public.
            Test::IpAddress(ranges) => ranges.iter().all(|r| match r.address {
                IpAddr::V4(_) => r.prefix_len >= 8,
                IpAddr::V6(_) => r.prefix_len >= 32,
            }),
            _ => false,
        }
    }
}

impl Test {
    /// Whether one request value matches one of the policy values (the positive test).
    fn matches_any(&self, value: &str, context: &dyn ConditionContext) -> bool {
        match self {
            Test::StringEquals(patterns) => patterns
                .iter()
                .any(|p| p.resolve(context).is_some_and(|v| v == value)),
            Test::StringEqualsIgnoreCase(patterns) => {
                let value = value.to_lowercase();
                patterns.iter().any(|p| {
                    p.resolve(context)
                        .is_some_and(|v| v.to_lowercase() == value)
                })
            }
            Test::StringLike(patterns) => patterns
                .iter()
                .any(|p| p.matches(value, context) == Some(true)),
            Test::Numeric(cmp, numbers) => {
                parse_number(value).is_some_and(|n| numbers.iter().any(|&p| cmp.holds(n, p)))
            }
            Test::Date(cmp, dates) => {
                parse_date(value).is_some_and(|d| dates.iter().any(|&p| cmp.holds(d, p)))
            }
            Test::Bool(bools) => parse_bool(value).is_some_and(|b| bools.contains(&b)),
            // The request value is the raw bytes; the policy wrote them in base64.
            Test::BinaryEquals(binaries) => {
                binaries.iter().any(|b| b.as_slice() == value.as_bytes())
            }
            Test::IpAddress(ranges) => value
                .trim()
                .parse::<IpAddr>()
                .is_ok_and(|address| ranges.iter().any(|r| r.contains(&address))),
            Test::ArnLike(arns) => {
                let parts: Vec<&str> = value.splitn(6, ':').collect();
                arns.iter().any(|pattern| {
                    // A pattern without colons (`*`) is matched against the whole value.
                    if let [whole] = pattern.as_slice() {
                        return whole.matches(value, context) == Some(true);
                    }
                    pattern.len() == parts.len()
                        && pattern
                            .iter()
                            .zip(&parts)
                            .all(|(p, part)| p.matches(part, context) == Some(true))
                })
            }
            Test::Null(_) => false,
        }
    }
}

/// A condition's values as text: a string, number or boolean, or an array of them.
fn value_texts(values: &Value) -> Option<Vec<String>> {
    fn scalar(value: &Value) -> Option<String> {
        match value {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }
    match values {
        Value::Array(items) if items.is_empty() => None,
        Value::Array(items) => items.iter().map(scalar).collect(),
        other => scalar(other).map(|s| vec![s]),
    }
}

/// Splits an ARN pattern into at most six colon-separated parts, not splitting inside
/// `${...}` (a variable key contains a colon).
fn split_arn_pattern(text: &str) -> Vec<&str> {
    let mut parts = Vec::with_capacity(6);
    let mut start = 0;
    let mut in_variable = false;
    let bytes = text.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if parts.len() == 5 {
            break;
        }
        match b {
            b'$' if bytes.get(i + 1) == Some(&b'{') => in_variable = true,
            b'}' => in_variable = false,
            b':' if !in_variable => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_arns_outside_variables() {
        assert_eq!(
            split_arn_pattern("arn:aws:s3:::b/${aws:username}/*"),
            vec!["arn", "aws", "s3", "", "", "b/${aws:username}/*"]
        );
        assert_eq!(
            split_arn_pattern("arn:aws:sns:*:${aws:PrincipalAccount}:t:x"),
            vec!["arn", "aws", "sns", "*", "${aws:PrincipalAccount}", "t:x"]
        );
        assert_eq!(split_arn_pattern("*"), vec!["*"]);
    }
}
