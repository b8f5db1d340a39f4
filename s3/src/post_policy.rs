//! The POST policy of a browser form upload: a base64 JSON document with an
//! `expiration` and a list of `conditions` that every field of the form must
//! meet, signed by the form's signature (`ops::post_object` checks that).
//!
//! Owns: decoding and validating the document (`InvalidPolicyDocument`),
//! expiry, exact-match and `starts-with` conditions, coverage (every field
//! but the exempt ones must be named by a condition) and the
//! `content-length-range` the file must fall in. Answers use AWS's
//! "Invalid according to Policy: ..." messages.
//!
//! Must not touch: signatures, the form's bytes, storage. Pure functions of
//! the document, the fields and the time, tested on their own.
//!
//! Main type: [`PostPolicy`].

use base64::Engine as _;
use serde_json::Value;

use crate::error::{S3Error, S3ErrorCode, S3Result};

/// A decoded, validated POST policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostPolicy {
    /// The last moment the policy is valid, in Unix milliseconds.
    pub expiration_ms: u64,
    conditions: Vec<Condition>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Condition {
    /// The field (lowercase, without `$`) equals `value`.
    Eq {
        field: String,
        value: String,
        shown: String,
    },
    /// The field starts with `prefix` (an empty prefix allows anything).
    StartsWith {
        field: String,
        prefix: String,
        shown: String,
    },
    /// The file's size in bytes is within `min..=max`.
    LengthRange { min: u64, max: u64 },
}

impl PostPolicy {
    /// Decodes the `policy` field: base64 (line breaks allowed, as some
    /// libraries wrap it) of a JSON object.
    pub fn parse(policy_base64: &str) -> S3Result<PostPolicy> {
        let compact: String = policy_base64
            .chars()
            .filter(|c| !c.is_ascii_whitespace())
            .collect();
        let json = base64::engine::general_purpose::STANDARD
            .decode(compact.as_bytes())
            .map_err(|_| invalid("Invalid Policy: The policy is not valid base64."))?;
        let document: Value = serde_json::from_slice(&without_trailing_commas(&json))
            .map_err(|_| invalid("Invalid Policy: Invalid JSON."))?;
        let Value::Object(document) = document else {
            return Err(invalid("Invalid Policy: Invalid JSON."));
        };
        // Top-level names are case-sensitive, as on AWS.
        let expiration = match document.get("expiration") {
            None => return Err(invalid("Invalid Policy: Policy missing expiration.")),
            Some(Value::String(text)) => text,
            Some(other) => return Err(bad_expiration(&other.to_string())),
        };
        let expiration_ms =
            crate::xml::parse_timestamp(expiration).ok_or_else(|| bad_expiration(expiration))?;
        let conditions = match document.get("conditions") {
            None => return Err(invalid("Invalid Policy: Policy missing conditions.")),
            Some(Value::Array(conditions)) => conditions,
            Some(_) => return Err(invalid("Invalid Policy: Invalid 'conditions' value.")),
        };
        let conditions = conditions
            .iter()
            .map(parse_condition)
            .collect::<S3Result<Vec<_>>>()?;
        Ok(PostPolicy {
            expiration_ms,
            conditions,
        })
    }

    /// AccessDenied once the policy's expiration has passed.
    pub fn check_expiration(&self, now_ms: u64) -> S3Result<()> {
        if now_ms > self.expiration_ms {
            return Err(denied("Policy expired."));
        }
        Ok(())
    }

    /// Checks every condition against `fields` (lowercase names, values
    /// after `${filename}` expansion, repeated fields joined by commas, and
    /// `bucket` from the URL), then that every field `exempt` does not name
    /// is named by a condition.
    pub fn check_fields(
        &self,
        fields: &[(String, String)],
        exempt: impl Fn(&str) -> bool,
    ) -> S3Result<()> {
        let value_of = |field: &str| {
            let found = fields.iter().find(|(name, _)| name == field);
            found.map(|(_, value)| value.as_str())
        };
        for condition in &self.conditions {
            let (met, shown) = match condition {
                Condition::Eq {
                    field,
                    value,
                    shown,
                } => (value_of(field) == Some(value.as_str()), shown),
                Condition::StartsWith {
                    field,
                    prefix,
                    shown,
                } => (
                    value_of(field).is_some_and(|v| v.starts_with(prefix.as_str())),
                    shown,
                ),
                Condition::LengthRange { .. } => continue,
            };
            if !met {
                return Err(denied(&format!("Policy Condition failed: {shown}")));
            }
        }
        let extra: Vec<&str> = fields
            .iter()
            .map(|(name, _)| name.as_str())
            .filter(|name| !exempt(name) && !self.names(name))
            .collect();
        if !extra.is_empty() {
            return Err(denied(&format!("Extra input fields: {}", extra.join(", "))));
        }
        Ok(())
    }

    /// The sizes the file may have: every `content-length-range` at once.
    pub fn length_range(&self) -> Option<(u64, u64)> {
        self.conditions
            .iter()
            .filter_map(|condition| match condition {
                Condition::LengthRange { min, max } => Some((*min, *max)),
                _ => None,
            })
            .reduce(|(min_a, max_a), (min_b, max_b)| (min_a.max(min_b), max_a.min(max_b)))
    }

    fn names(&self, field: &str) -> bool {
        self.conditions.iter().any(|condition| match condition {
            Condition::Eq { field: named, .. } | Condition::StartsWith { field: named, .. } => {
                named == field
            }
            Condition::LengthRange { .. } => false,
        })
    }
}

/// AWS's own policy examples end their lists with a comma (`[..., ]`), so
/// such a comma is dropped before the JSON is parsed; nothing else is relaxed.
fn without_trailing_commas(json: &[u8]) -> Vec<u8> {
    let mut out: Vec<u8> = Vec::with_capacity(json.len());
    let (mut in_string, mut escaped) = (false, false);
    for (i, &byte) in json.iter().enumerate() {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
        } else if byte == b'"' {
            in_string = true;
        } else if byte == b',' {
            let next = json[i + 1..].iter().find(|b| !b.is_ascii_whitespace());
            let previous = out.iter().rev().find(|b| !b.is_ascii_whitespace());
            let after_value = !matches!(previous, None | Some(b'[' | b'{' | b',' | b':'));
            if after_value && matches!(next, Some(b']' | b'}')) {
                continue;
            }
        }
        out.push(byte);
    }
    out
}

/// One element of `conditions`: `{"field": "value"}`, `["eq", "$field",
/// "value"]`, `["starts-with", "$field", "prefix"]` or
/// `["content-length-range", min, max]`. Operation and field names are
/// matched without regard to case, as AWS does.
fn parse_condition(condition: &Value) -> S3Result<Condition> {
    match condition {
        Value::Object(simple) => {
            let mut entries = simple.iter();
            let (Some((field, value)), None) = (entries.next(), entries.next()) else {
                return Err(invalid(
                    "Invalid Policy: Invalid Simple-Condition: Simple-Conditions must have \
                     exactly one property specified.",
                ));
            };
            let Value::String(value) = value else {
                return Err(invalid(
                    "Invalid Policy: Invalid Simple-Condition: Value Must Be A String",
                ));
            };
            let shown = show(&["eq", &format!("${field}"), value]);
            Ok(Condition::Eq {
                field: field.to_ascii_lowercase(),
                value: value.clone(),
                shown,
            })
        }
        Value::Array(parts) => {
            let [operation, first, second] = parts.as_slice() else {
                return Err(bad_condition(condition));
            };
            let operation = operation
                .as_str()
                .ok_or_else(|| bad_condition(condition))?
                .to_ascii_lowercase();
            if operation == "content-length-range" {
                let size = |value: &Value| match value {
                    Value::Number(number) => number.as_u64(),
                    Value::String(text) => text.trim().parse().ok(),
                    _ => None,
                };
                let (Some(min), Some(max)) = (size(first), size(second)) else {
                    return Err(bad_condition(condition));
                };
                return Ok(Condition::LengthRange { min, max });
            }
            let named = first.as_str().ok_or_else(|| bad_condition(condition))?;
            let field = named
                .strip_prefix('$')
                .filter(|field| !field.is_empty())
                .ok_or_else(|| bad_condition(condition))?
                .to_ascii_lowercase();
            let value = second
                .as_str()
                .ok_or_else(|| bad_condition(condition))?
                .to_owned();
            let shown = show(&[&operation, named, &value]);
            match operation.as_str() {
                "eq" => Ok(Condition::Eq {
                    field,
                    value,
                    shown,
                }),
                "starts-with" => Ok(Condition::StartsWith {
                    field,
                    prefix: value,
                    shown,
                }),
                _ => Err(invalid(&format!(
                    "Invalid Policy: Invalid Condition: unknown operation '{operation}'."
                ))),
            }
        }
        _ => Err(bad_condition(condition)),
    }
}

/// `["starts-with", "$key", "user/"]`, as AWS quotes a failed condition.
fn show(parts: &[&str]) -> String {
    let quoted: Vec<String> = parts
        .iter()
        .map(|part| Value::String((*part).to_owned()).to_string())
        .collect();
    format!("[{}]", quoted.join(", "))
}

fn invalid(message: &str) -> S3Error {
    S3Error::new(S3ErrorCode::InvalidPolicyDocument, message)
}

fn bad_expiration(value: &str) -> S3Error {
    invalid(&format!(
        "Invalid Policy: Invalid 'expiration' value: '{value}'"
    ))
}

fn bad_condition(condition: &Value) -> S3Error {
    invalid(&format!(
        "Invalid Policy: Invalid 'condition' value: {condition}"
    ))
}

fn denied(why: &str) -> S3Error {
    S3Error::new(
        S3ErrorCode::AccessDenied,
        format!("Invalid according to Policy: {why}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(json: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(json)
    }

    fn policy(conditions: &str) -> PostPolicy {
        let json =
            format!(r#"{{"expiration": "2030-01-01T00:00:00.000Z", "conditions": {conditions}}}"#);
        PostPolicy::parse(&encode(&json)).unwrap()
    }

    fn fields(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn exempt(name: &str) -> bool {
        ["policy", "x-amz-signature", "file"].contains(&name) || name.starts_with("x-ignore-")
    }

    /// AWS's documented example policy.
    const EXAMPLE: &str = r#"[
        {"acl": "public-read"},
        {"bucket": "johnsmith"},
        ["starts-with", "$key", "user/eric/"],
        ["content-length-range", 1048579, 10485760]
    ]"#;

    #[test]
    fn the_documented_example_accepts_a_matching_form() {
        let policy = policy(EXAMPLE);
        let form = fields(&[
            ("key", "user/eric/photo.jpg"),
            ("acl", "public-read"),
            ("bucket", "johnsmith"),
            ("policy", "..."),
            ("x-amz-signature", "..."),
            ("x-ignore-submit", "Upload"),
        ]);
        policy.check_fields(&form, exempt).unwrap();
        assert_eq!(policy.length_range(), Some((1048579, 10485760)));
    }

    #[test]
    fn failed_conditions_are_quoted_as_aws_does() {
        let policy = policy(EXAMPLE);
        let cases = [
            (
                "key",
                "user/bob/x",
                r#"["starts-with", "$key", "user/eric/"]"#,
            ),
            ("acl", "private", r#"["eq", "$acl", "public-read"]"#),
            ("bucket", "other", r#"["eq", "$bucket", "johnsmith"]"#),
        ];
        for (field, value, shown) in cases {
            let mut form = fields(&[
                ("key", "user/eric/a"),
                ("acl", "public-read"),
                ("bucket", "johnsmith"),
            ]);
            form.iter_mut().find(|(n, _)| n == field).unwrap().1 = value.to_owned();
            let err = policy.check_fields(&form, exempt).unwrap_err();
            assert_eq!(err.code, S3ErrorCode::AccessDenied);
            assert_eq!(
                err.message,
                format!("Invalid according to Policy: Policy Condition failed: {shown}")
            );
        }
    }

    #[test]
    fn a_condition_on_a_missing_field_fails() {
        let policy = policy(r#"[["starts-with", "$x-amz-meta-foo", ""], {"bucket": "b"}]"#);
        let err = policy
            .check_fields(&fields(&[("bucket", "b")]), exempt)
            .unwrap_err();
        assert!(err.message.contains("Policy Condition failed"));
    }

    #[test]
    fn every_field_must_be_named_by_a_condition() {
        let policy = policy(r#"[{"bucket": "b"}, ["starts-with", "$key", ""]]"#);
        let form = fields(&[
            ("bucket", "b"),
            ("key", "k"),
            ("content-type", "text/plain"),
        ]);
        let err = policy.check_fields(&form, exempt).unwrap_err();
        assert_eq!(err.code, S3ErrorCode::AccessDenied);
        assert_eq!(
            err.message,
            "Invalid according to Policy: Extra input fields: content-type"
        );
        // The bucket from the URL is a field like any other.
        let policy = super::tests::policy(r#"[["starts-with", "$key", ""]]"#);
        let err = policy
            .check_fields(&fields(&[("bucket", "b"), ("key", "k")]), exempt)
            .unwrap_err();
        assert!(err.message.ends_with("Extra input fields: bucket"));
    }

    #[test]
    fn names_and_operations_ignore_case_but_values_do_not() {
        let policy = policy(
            r#"[{"BuCkEt": "b"}, ["StArTs-WiTh", "$KeY", "foo"],
                ["EQ", "$Content-Type", "text/plain"]]"#,
        );
        let ok = fields(&[
            ("bucket", "b"),
            ("key", "foo.txt"),
            ("content-type", "text/plain"),
        ]);
        policy.check_fields(&ok, exempt).unwrap();
        let upper = fields(&[
            ("bucket", "b"),
            ("key", "FOO.txt"),
            ("content-type", "text/plain"),
        ]);
        assert!(policy.check_fields(&upper, exempt).is_err());
    }

    #[test]
    fn an_empty_prefix_allows_anything() {
        let policy = policy(r#"[{"bucket": "b"}, ["starts-with", "$key", ""]]"#);
        let form = fields(&[("bucket", "b"), ("key", "anything/at/all")]);
        policy.check_fields(&form, exempt).unwrap();
    }

    #[test]
    fn expiry() {
        let policy = policy("[]");
        let at = crate::xml::parse_timestamp("2030-01-01T00:00:00Z").unwrap();
        policy.check_expiration(at).unwrap();
        let err = policy.check_expiration(at + 1).unwrap_err();
        assert_eq!(err.code, S3ErrorCode::AccessDenied);
        assert_eq!(err.message, "Invalid according to Policy: Policy expired.");
    }

    #[test]
    fn length_ranges_intersect() {
        let policy =
            policy(r#"[["content-length-range", 10, 100], ["content-length-range", "20", 1000]]"#);
        assert_eq!(policy.length_range(), Some((20, 100)));
        assert_eq!(super::tests::policy("[]").length_range(), None);
    }

    #[test]
    fn broken_documents_are_invalid_policy_documents() {
        let with_conditions = |conditions: &str| {
            encode(&format!(
                r#"{{"expiration": "2030-01-01T00:00:00Z", "conditions": {conditions}}}"#
            ))
        };
        let mut cases = vec![
            "not base64!".to_owned(),
            encode("not json"),
            encode("[]"),
            encode(r#"{"conditions": []}"#),
            encode(r#"{"EXPIRATION": "2030-01-01T00:00:00Z", "conditions": []}"#),
            encode(r#"{"expiration": "2030-01-01T00:00:00Z", "CONDITIONS": []}"#),
            encode(r#"{"expiration": "tomorrow", "conditions": []}"#),
            encode(r#"{"expiration": 5, "conditions": []}"#),
        ];
        let conditions = [
            "{}",
            "[{}]",
            r#"[{"a": "b", "c": "d"}]"#,
            r#"[{"a": ["b"]}]"#,
            r#"[{"a": 201}]"#,
            r#"[["eq", "key", "v"]]"#,
            r#"[["eq", "$key"]]"#,
            r#"[["in", "$key", "v"]]"#,
            r#"[["content-length-range", 0]]"#,
            r#"[["content-length-range", -1, 0]]"#,
            r#"["key"]"#,
        ];
        cases.extend(conditions.iter().map(|c| with_conditions(c)));
        for case in cases {
            let err = PostPolicy::parse(&case).unwrap_err();
            assert_eq!(err.code, S3ErrorCode::InvalidPolicyDocument, "{case}");
        }
    }

    #[test]
    fn trailing_commas_as_in_aws_examples_are_accepted() {
        let json = r#"{"expiration": "2030-01-01T00:00:00Z",
            "conditions": [{"bucket": "b"}, ["starts-with", "$key", ",]"], ], }"#;
        let policy = PostPolicy::parse(&encode(json)).unwrap();
        let form = fields(&[("bucket", "b"), ("key", ",]x")]);
        policy.check_fields(&form, exempt).unwrap();
        let doubled = r#"{"expiration": "2030-01-01T00:00:00Z", "conditions": [,]}"#;
        assert!(PostPolicy::parse(&encode(doubled)).is_err());
    }

    #[test]
    fn wrapped_base64_and_escapes_decode() {
        let json = r#"{"expiration": "2030-01-01T00:00:00Z",
            "conditions": [["starts-with", "$key", "\\$foo"]]}"#;
        let wrapped: String = encode(json)
            .as_bytes()
            .chunks(60)
            .map(|line| format!("{}\n", std::str::from_utf8(line).unwrap()))
            .collect();
        let policy = PostPolicy::parse(&wrapped).unwrap();
        let form = fields(&[("key", "\\$foo.txt")]);
        policy.check_fields(&form, |name| name != "key").unwrap();
    }
}
