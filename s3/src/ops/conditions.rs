//! Conditional reads: If-Match, If-None-Match, If-Modified-Since and
//! If-Unmodified-Since, evaluated in RFC 7232 order as S3 does.

use std::time::{Duration, UNIX_EPOCH};

use crate::error::{S3Error, S3ErrorCode, S3Result};

#[derive(Debug, PartialEq, Eq)]
pub enum ReadDecision {
    Proceed,
    NotModified,
}

fn etag_matches(list: &str, etag: &str) -> bool {
    list.split(',').map(str::trim).any(|candidate| {
        candidate == "*"
            || candidate == etag
            || candidate.trim_matches('"') == etag.trim_matches('"')
    })
}

fn parse_date_secs(value: &str) -> Option<u64> {
    let time = httpdate::parse_http_date(value.trim()).ok()?;
    Some(
        time.duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
            .as_secs(),
    )
}

/// The 412 AWS answers, naming the condition that failed (`If-Match`, ...).
pub fn precondition_failed(condition: &str) -> S3Error {
    S3Error::new(
        S3ErrorCode::PreconditionFailed,
        "At least one of the pre-conditions you specified did not hold",
    )
    .with_detail("Condition", condition)
}

/// `etag` is quoted; dates compare at one-second resolution (HTTP dates have no more).
pub fn evaluate_read_conditions(
    head: &http::RequestHead,
    etag: &str,
    last_modified_ms: u64,
) -> S3Result<ReadDecision> {
    evaluate_conditions(head, etag, last_modified_ms, "").map(|(decision, _)| decision)
}

/// As `evaluate_read_conditions`, also naming the condition that decided a
/// `NotModified`; `prefix` goes before the names a 412 carries
/// (`x-amz-copy-source-` for copies, where, as on AWS, an If-Modified-Since
/// later than now is no condition at all: RFC 7232 §3.3).
pub fn evaluate_conditions(
    head: &http::RequestHead,
    etag: &str,
    last_modified_ms: u64,
    prefix: &str,
) -> S3Result<(ReadDecision, &'static str)> {
    let modified_secs = last_modified_ms / 1000;
    let now_secs = std::time::SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs();
    let future_ignored = !prefix.is_empty();
    let if_match = head.header("if-match");
    if let Some(list) = if_match {
        if !etag_matches(list, etag) {
            return Err(precondition_failed(&format!("{prefix}If-Match")));
        }
    } else if let Some(since) = head.header("if-unmodified-since").and_then(parse_date_secs) {
        if modified_secs > since {
            return Err(precondition_failed(&format!("{prefix}If-Unmodified-Since")));
        }
    }
    if let Some(list) = head.header("if-none-match") {
        if etag_matches(list, etag) {
            return Ok((ReadDecision::NotModified, "If-None-Match"));
        }
    } else if let Some(since) = head
        .header("if-modified-since")
        .and_then(parse_date_secs)
        .filter(|since| !future_ignored || *since <= now_secs)
    {
        if modified_secs <= since {
            return Ok((ReadDecision::NotModified, "If-Modified-Since"));
        }
    }
    Ok((ReadDecision::Proceed, ""))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(headers: &[(&str, &str)]) -> http::RequestHead {
        http::RequestHead {
            method: "GET".into(),
            target: "/b/k".into(),
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
        }
    }

    const ETAG: &str = "\"abc\"";
    // 1994-11-06 08:49:37 UTC
    const MODIFIED_MS: u64 = 784_111_777_000;

    #[test]
    fn etag_conditions() {
        let eval = |h: &[(&str, &str)]| evaluate_read_conditions(&head(h), ETAG, MODIFIED_MS);
        assert_eq!(
            eval(&[("if-match", "\"abc\"")]).unwrap(),
            ReadDecision::Proceed
        );
        assert_eq!(eval(&[("if-match", "abc")]).unwrap(), ReadDecision::Proceed);
        assert!(eval(&[("if-match", "\"zzz\"")]).is_err());
        assert_eq!(
            eval(&[("if-none-match", "\"abc\"")]).unwrap(),
            ReadDecision::NotModified
        );
        assert_eq!(
            eval(&[("if-none-match", "\"x\"")]).unwrap(),
            ReadDecision::Proceed
        );
    }

    #[test]
    fn date_conditions() {
        let eval = |h: &[(&str, &str)]| evaluate_read_conditions(&head(h), ETAG, MODIFIED_MS);
        let before = "Sat, 05 Nov 1994 08:49:37 GMT";
        let same = "Sun, 06 Nov 1994 08:49:37 GMT";
        assert_eq!(
            eval(&[("if-modified-since", same)]).unwrap(),
            ReadDecision::NotModified
        );
        assert_eq!(
            eval(&[("if-modified-since", before)]).unwrap(),
            ReadDecision::Proceed
        );
        assert!(eval(&[("if-unmodified-since", before)]).is_err());
        assert_eq!(
            eval(&[("if-unmodified-since", same)]).unwrap(),
            ReadDecision::Proceed
        );
        // If-Match true overrides a failing If-Unmodified-Since, as S3 documents.
        let both = [("if-match", ETAG), ("if-unmodified-since", before)];
        assert_eq!(eval(&both).unwrap(), ReadDecision::Proceed);
    }
}
