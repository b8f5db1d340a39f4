//! Chunked transfer coding of request bodies (RFC 9112 section 7.1): the decoder's
//! states and the pure parsers of its lines (chunk-size lines with extensions, trailer
//! fields). The socket side lives in `exchange.rs`; this file never does I/O.
//!
//! Lines must end in CRLF. Bare LF is refused here even though heads accept it: framing
//! that two parsers could read differently is how request smuggling starts.

use crate::error::HttpError;

/// Where the decoder stands in a chunked body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ChunkState {
    /// Expecting `hex-size [; extensions] CRLF`.
    SizeLine,
    /// Inside chunk data.
    Data { remaining_bytes: u64 },
    /// Expecting the CRLF that ends chunk data.
    DataEnd,
    /// After the last chunk: trailer fields until an empty line.
    Trailers { seen_bytes: usize },
}

/// Finds the first CRLF-terminated line in `buf`: returns (line length without CRLF,
/// bytes to consume), or None if no complete line is buffered yet.
pub(crate) fn find_line(buf: &[u8]) -> Result<Option<(usize, usize)>, HttpError> {
    let Some(lf) = buf.iter().position(|&b| b == b'\n') else {
        return Ok(None);
    };
    if lf == 0 || buf[lf - 1] != b'\r' {
        return Err(HttpError::BadChunk("line not ended by CRLF"));
    }
    Ok(Some((lf - 1, lf + 1)))
}

/// Parses a chunk-size line (without CRLF) and returns the chunk size. Extensions are
/// checked for stray control bytes and otherwise ignored: the S3 layer never needs them
/// at this level (aws-chunked signatures travel inside the body, not here).
pub(crate) fn parse_chunk_size_line(line: &[u8]) -> Result<u64, HttpError> {
    let digits_len = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    if digits_len == 0 {
        return Err(HttpError::BadChunk("missing chunk size"));
    }
    let mut size_bytes: u64 = 0;
    for &digit in &line[..digits_len] {
        let value = (digit as char).to_digit(16).expect("checked hex digit") as u64;
        size_bytes = size_bytes
            .checked_mul(16)
            .and_then(|s| s.checked_add(value))
            .ok_or(HttpError::BadChunk("chunk size overflows"))?;
    }
    let rest = &line[digits_len..];
    let extensions = rest.trim_ascii_start();
    if !extensions.is_empty() && extensions[0] != b';' {
        return Err(HttpError::BadChunk("junk after chunk size"));
    }
    if extensions
        .iter()
        .any(|&b| b.is_ascii_control() && b != b'\t')
    {
        return Err(HttpError::BadChunk("control byte in chunk extension"));
    }
    Ok(size_bytes)
}

/// Parses one trailer field line (without CRLF) into (lowercase name, trimmed value).
pub(crate) fn parse_trailer_line(line: &[u8]) -> Result<(String, String), HttpError> {
    let bad = HttpError::BadChunk("invalid trailer field");
    let colon = line.iter().position(|&b| b == b':').ok_or(bad)?;
    let (name, value) = (&line[..colon], &line[colon + 1..]);
    if name.is_empty() || !name.iter().all(|&b| is_token_byte(b)) {
        return Err(HttpError::BadChunk("invalid trailer name"));
    }
    if value
        .iter()
        .any(|&b| (b.is_ascii_control() && b != b'\t') || b == 0x7f)
    {
        return Err(HttpError::BadChunk("invalid trailer value"));
    }
    let value = std::str::from_utf8(value)
        .map_err(|_| HttpError::BadChunk("trailer value is not UTF-8"))?;
    let name = std::str::from_utf8(name).expect("token bytes are ASCII");
    let value = value.trim_matches([' ', '\t']);
    Ok((name.to_ascii_lowercase(), value.to_string()))
}

/// RFC 9110 `tchar`.
pub(crate) fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_lines() {
        assert_eq!(parse_chunk_size_line(b"0").unwrap(), 0);
        assert_eq!(parse_chunk_size_line(b"1aF").unwrap(), 0x1af);
        assert_eq!(parse_chunk_size_line(b"0010").unwrap(), 16);
        let signed = concat!(
            "400;chunk-signature=",
            "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497"
        );
        assert_eq!(parse_chunk_size_line(signed.as_bytes()).unwrap(), 0x400);
        assert_eq!(parse_chunk_size_line(b"5 ; a=\"b c\"; d").unwrap(), 5);
        assert_eq!(
            parse_chunk_size_line(b"ffffffffffffffff").unwrap(),
            u64::MAX
        );
        for bad in [
            &b""[..],
            b"x",
            b";a",
            b"5x",
            b"10000000000000000",
            b"5;\x01",
            b"-1",
        ] {
            assert!(parse_chunk_size_line(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn lines_need_crlf() {
        assert_eq!(find_line(b"5\r\nabc").unwrap(), Some((1, 3)));
        assert_eq!(find_line(b"5\r").unwrap(), None);
        assert_eq!(find_line(b"\r\n").unwrap(), Some((0, 2)));
        assert!(find_line(b"5\nabc").is_err());
        assert!(find_line(b"\n").is_err());
    }

    #[test]
    fn trailer_lines() {
        let (name, value) = parse_trailer_line(b"X-Amz-Checksum-Crc32: sOO8/Q== ").unwrap();
        assert_eq!(
            (name.as_str(), value.as_str()),
            ("x-amz-checksum-crc32", "sOO8/Q==")
        );
        for bad in [&b"no colon"[..], b": v", b"a b: v", b"a: \x01"] {
            assert!(parse_trailer_line(bad).is_err(), "{bad:?}");
        }
    }
}
