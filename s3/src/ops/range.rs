//! The `Range` request header: one byte range, as S3 supports.

use crate::error::{S3Error, S3ErrorCode, S3Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ByteRange {
    pub start: u64,
    pub end_inclusive: u64,
}

/// Parses `bytes=a-b`, `bytes=a-`, `bytes=-n` against an object of `size`.
/// Syntax S3 does not understand (other units, several ranges, garbage) is
/// ignored and the whole object is served, as AWS does; a well-formed range
/// that starts past the end is `InvalidRange` (416).
pub fn parse_range(value: &str, size: u64) -> S3Result<Option<ByteRange>> {
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return Ok(None);
    };
    let (first, last) = (first.trim(), last.trim());
    let unsatisfiable = || {
        S3Error::new(
            S3ErrorCode::InvalidRange,
            "The requested range is not satisfiable",
        )
    };
    if first.is_empty() {
        let Ok(suffix) = last.parse::<u64>() else {
            return Ok(None);
        };
        if suffix == 0 || size == 0 {
            return Err(unsatisfiable());
        }
        return Ok(Some(ByteRange {
            start: size.saturating_sub(suffix),
            end_inclusive: size - 1,
        }));
    }
    let Ok(start) = first.parse::<u64>() else {
        return Ok(None);
    };
    let end = if last.is_empty() {
        u64::MAX
    } else {
        match last.parse::<u64>() {
            Ok(end) if end >= start => end,
            _ => return Ok(None),
        }
    };
    if start >= size {
        return Err(unsatisfiable());
    }
    Ok(Some(ByteRange {
        start,
        end_inclusive: end.min(size - 1),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(start: u64, end_inclusive: u64) -> Option<ByteRange> {
        Some(ByteRange {
            start,
            end_inclusive,
        })
    }

    #[test]
    fn forms() {
        assert_eq!(parse_range("bytes=0-9", 100).unwrap(), range(0, 9));
        assert_eq!(parse_range("bytes=5-", 100).unwrap(), range(5, 99));
        assert_eq!(parse_range("bytes=-5", 100).unwrap(), range(95, 99));
        assert_eq!(parse_range("bytes=-500", 100).unwrap(), range(0, 99));
        assert_eq!(parse_range("bytes=90-500", 100).unwrap(), range(90, 99));
    }

    #[test]
    fn ignored_and_unsatisfiable() {
        assert_eq!(parse_range("items=0-1", 100).unwrap(), None);
        assert_eq!(parse_range("bytes=0-1,3-4", 100).unwrap(), None);
        assert_eq!(parse_range("bytes=9-3", 100).unwrap(), None);
        assert_eq!(parse_range("bytes=x-3", 100).unwrap(), None);
        assert!(parse_range("bytes=100-", 100).is_err());
        assert!(parse_range("bytes=0-0", 0).is_err());
        assert!(parse_range("bytes=-0", 100).is_err());
    }
}
