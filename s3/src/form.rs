//! Browser form bodies (`multipart/form-data`, RFC 7578) as PostObject reads
//! them: the fields before the `file` part into memory, within AWS's limit;
//! then the file part as a stream ([`ByteSource`]) that the ingest path reads
//! like any request body, never buffered whole; then the rest of the form,
//! read only to find a second file and the closing boundary.
//!
//! Owns: the boundary from `Content-Type`, finding delimiters however the
//! body is split across reads, part headers (`Content-Disposition` name and
//! filename), and enforcing the `limits::POST_FORM_*` bounds.
//!
//! Must not touch: what fields mean (policy, signature, key, metadata are
//! `ops::post_object`'s), storage, the exchange. It reads from any
//! [`ByteSource`], so it is tested by feeding bodies split at every offset.
//!
//! Main types: [`FormReader`], [`FormFields`], [`FileInfo`].

use std::ops::Range;
use std::time::{Duration, Instant};

use crate::body::ByteSource;
use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::limits::{
    POST_FORM_AFTER_FILE_BYTES_MAX, POST_FORM_FIELDS_BYTES_MAX, POST_FORM_FIELDS_COUNT_MAX,
    POST_FORM_FIELDS_READ_MS_MAX, POST_FORM_READ_BYTES,
};

/// RFC 2046: a boundary is 1 to 70 characters.
const BOUNDARY_BYTES_MAX: usize = 70;
/// A delimiter is `CRLF--boundary`. The body is read as if it began with
/// this CRLF, so the first boundary (which starts the body, or a line after a
/// preamble) is found like every other one.
const LINE_END: &[u8] = b"\r\n";
/// The name of the part that carries the object.
const FILE_FIELD: &str = "file";

/// The fields before the file, and the file part's own details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormFields {
    /// `(name lowercased, value)` in form order; AWS matches field names
    /// without regard to case.
    pub fields: Vec<(String, String)>,
    /// `None` when the form ended without a `file` part.
    pub file: Option<FileInfo>,
}

/// What the `file` part's headers say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileInfo {
    /// The `filename` parameter, as sent (possibly a path).
    pub filename: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Before the file: fields are kept, within `POST_FORM_FIELDS_BYTES_MAX`.
    Fields,
    /// Inside the file part: its content is handed out by `read_full`.
    File,
    /// After the file: parts are skipped, within the after-file budget.
    AfterFile,
    /// The closing delimiter was read.
    Done,
}

/// Reads one form from `source`. Call [`FormReader::read_fields`], then (when
/// it found a file) read the file through [`ByteSource::read_full`] until it
/// returns less than asked, then [`FormReader::finish`].
pub(crate) struct FormReader<S> {
    source: S,
    /// `CRLF--boundary`: what ends every part's content.
    delimiter: Vec<u8>,
    /// Read-ahead; the unread bytes are `buf[start..end]`.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    source_done: bool,
    /// The fields before the file must have arrived by then: checked between
    /// reads (each read has the HTTP layer's own progress timeout), so a
    /// client dripping its fields cannot hold the connection unauthenticated.
    fields_deadline: Instant,
    /// Bytes consumed from the body so far, counting the leading CRLF the
    /// reader pretends the body starts with.
    consumed: usize,
    /// `consumed` may not pass this while the phase is `AfterFile`.
    after_file_end: usize,
    phase: Phase,
}

impl<S: ByteSource> FormReader<S> {
    /// A reader for a body whose `Content-Type` gave `boundary`
    /// (see [`boundary_of`]).
    pub fn new(source: S, boundary: &str) -> Self {
        let mut delimiter = LINE_END.to_vec();
        delimiter.extend_from_slice(b"--");
        delimiter.extend_from_slice(boundary.as_bytes());
        // Room for a whole read after the longest line the budgets allow to
        // sit unconsumed, so a line never has to be cut.
        let capacity = POST_FORM_FIELDS_BYTES_MAX.max(POST_FORM_AFTER_FILE_BYTES_MAX)
            + POST_FORM_READ_BYTES
            + delimiter.len();
        let mut buf = vec![0; capacity];
        buf[..LINE_END.len()].copy_from_slice(LINE_END);
        FormReader {
            source,
            delimiter,
            buf,
            start: 0,
            end: LINE_END.len(),
            source_done: false,
            fields_deadline: Instant::now() + Duration::from_millis(POST_FORM_FIELDS_READ_MS_MAX),
            consumed: 0,
            after_file_end: 0,
            phase: Phase::Fields,
        }
    }

    /// Body bytes consumed so far: everything before the file's content once
    /// `read_fields` returned.
    pub fn body_bytes_consumed(&self) -> u64 {
        self.consumed.saturating_sub(LINE_END.len()) as u64
    }

    /// Reads the fields up to the `file` part (whose headers it reads too),
    /// or to the end of the form when there is none.
    pub async fn read_fields(&mut self) -> S3Result<FormFields> {
        assert_eq!(self.phase, Phase::Fields, "read_fields is called once");
        // The preamble, if any, is content before the first delimiter.
        while self.content_run(usize::MAX).await?.is_some() {
            self.check_budget(0)?;
        }
        let mut fields = Vec::new();
        loop {
            if !self.open_part().await? {
                self.phase = Phase::Done;
                return Ok(FormFields { fields, file: None });
            }
            let head = self.read_part_head().await?;
            self.check_budget(0)?;
            if head.name.eq_ignore_ascii_case(FILE_FIELD) {
                self.phase = Phase::File;
                let file = FileInfo {
                    filename: head.filename,
                };
                return Ok(FormFields {
                    fields,
                    file: Some(file),
                });
            }
            if fields.len() == POST_FORM_FIELDS_COUNT_MAX {
                return Err(too_many_fields());
            }
            let mut value = Vec::new();
            while let Some(run) = self.content_run(usize::MAX).await? {
                value.extend_from_slice(&self.buf[run]);
                self.check_budget(0)?;
            }
            let value = String::from_utf8(value).map_err(|_| malformed())?;
            fields.push((head.name.to_ascii_lowercase(), value));
        }
    }

    /// After the file was read to its end: reads the rest of the form to the
    /// closing delimiter and the end of the body, refusing a second file as
    /// AWS does, and gives the source back (to verify a signed payload).
    pub async fn finish(mut self) -> S3Result<S> {
        assert_eq!(
            self.phase,
            Phase::AfterFile,
            "finish is called after the whole file was read"
        );
        while self.open_part().await? {
            let head = self.read_part_head().await?;
            self.check_budget(0)?;
            if head.name.eq_ignore_ascii_case(FILE_FIELD) {
                return Err(file_count_error(2));
            }
            while self.content_run(usize::MAX).await?.is_some() {
                self.check_budget(0)?;
            }
        }
        // The epilogue is ignored, but read: the body must end cleanly.
        loop {
            self.consume(self.end - self.start);
            self.check_budget(0)?;
            if !self.fill().await? {
                break;
            }
        }
        self.phase = Phase::Done;
        Ok(self.source)
    }

    /// The next run of the current part's content, at most `max` bytes, as a
    /// range of `buf` (already consumed); `None` once the part's delimiter is
    /// next (left unconsumed).
    async fn content_run(&mut self, max: usize) -> S3Result<Option<Range<usize>>> {
        loop {
            let window = &self.buf[self.start..self.end];
            let (safe, found) = match find(window, &self.delimiter) {
                Some(at) => (at, true),
                // A delimiter could still begin in the last len-1 bytes.
                None => (window.len().saturating_sub(self.delimiter.len() - 1), false),
            };
            if safe > 0 {
                let take = safe.min(max);
                let run = self.start..self.start + take;
                self.consume(take);
                return Ok(Some(run));
            }
            if found {
                return Ok(None);
            }
            if !self.fill().await? {
                return Err(malformed());
            }
        }
    }

    /// Consumes the delimiter the reader stands at and the rest of its line;
    /// false when it was the closing one (`--` right after the boundary).
    async fn open_part(&mut self) -> S3Result<bool> {
        self.need(self.delimiter.len() + 2).await?;
        debug_assert!(self.buf[self.start..].starts_with(&self.delimiter));
        self.consume(self.delimiter.len());
        if &self.buf[self.start..self.start + 2] == b"--" {
            self.consume(2);
            return Ok(false);
        }
        // Transport padding (RFC 2046) may follow the boundary on its line.
        let line = self.read_line().await?;
        if !self.buf[line].iter().all(|b| *b == b' ' || *b == b'\t') {
            return Err(malformed());
        }
        Ok(true)
    }

    /// A part's header lines up to the blank line; only
    /// `Content-Disposition` matters (the file part's `Content-Type` does
    /// not: the `Content-Type` field sets the object's).
    async fn read_part_head(&mut self) -> S3Result<PartHead> {
        let mut head = None;
        loop {
            let line = self.read_line().await?;
            if line.is_empty() {
                return head.ok_or_else(malformed);
            }
            let text = std::str::from_utf8(&self.buf[line]).map_err(|_| malformed())?;
            let (name, value) = text.split_once(':').ok_or_else(malformed)?;
            if name.trim().eq_ignore_ascii_case("content-disposition") {
                if head.is_some() {
                    return Err(malformed());
                }
                head = Some(parse_disposition(value)?);
            }
        }
    }

    /// The next line without its CRLF, as a range of `buf` (consumed).
    async fn read_line(&mut self) -> S3Result<Range<usize>> {
        loop {
            let window = &self.buf[self.start..self.end];
            if let Some(at) = find(window, LINE_END) {
                let line = self.start..self.start + at;
                self.consume(at + LINE_END.len());
                return Ok(line);
            }
            // The line is at least this long: refused once over budget, which
            // also keeps it within the buffer.
            self.check_budget(window.len())?;
            if !self.fill().await? {
                return Err(malformed());
            }
        }
    }

    /// Makes `n` bytes available unread; the body ending first is a
    /// truncated form.
    async fn need(&mut self, n: usize) -> S3Result<()> {
        while self.end - self.start < n {
            if !self.fill().await? {
                return Err(malformed());
            }
        }
        Ok(())
    }

    fn consume(&mut self, n: usize) {
        debug_assert!(n <= self.end - self.start);
        self.start += n;
        self.consumed += n;
    }

    /// Refuses the form once the current phase's bytes, with `pending` more
    /// already known to belong to it, pass its budget.
    fn check_budget(&self, pending: usize) -> S3Result<()> {
        let total = self.consumed + pending;
        match self.phase {
            Phase::Fields if total > POST_FORM_FIELDS_BYTES_MAX + LINE_END.len() => {
                Err(pre_data_too_large())
            }
            Phase::AfterFile if total > self.after_file_end => Err(S3Error::new(
                S3ErrorCode::MalformedPOSTRequest,
                format!(
                    "The fields after the file of your POST request exceed \
                     {POST_FORM_AFTER_FILE_BYTES_MAX} bytes."
                ),
            )),
            _ => Ok(()),
        }
    }

    /// Reads more of the body; false once it has ended.
    async fn fill(&mut self) -> S3Result<bool> {
        if self.source_done {
            return Ok(false);
        }
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.phase == Phase::Fields && Instant::now() > self.fields_deadline {
            return Err(S3Error::new(
                S3ErrorCode::RequestTimeout,
                "Your socket connection to the server was not read from or written to within \
                 the timeout period.",
            ));
        }
        let room = (self.buf.len() - self.end).min(POST_FORM_READ_BYTES);
        assert!(room > 0, "the budgets keep unread bytes below the buffer");
        // Whatever has arrived: a form's fields are small and must not wait
        // for a full buffer, nor may the deadline above.
        let n = self
            .source
            .read_some(&mut self.buf[self.end..self.end + room])
            .await?;
        self.source_done = n == 0;
        self.end += n;
        Ok(n > 0)
    }
}

/// The file part's content, up to its delimiter. Returns less than
/// `dst.len()` only at the file's end, as the ingest path expects.
impl<S: ByteSource> ByteSource for FormReader<S> {
    async fn read_full(&mut self, dst: &mut [u8]) -> S3Result<usize> {
        let mut filled = 0;
        while filled < dst.len() && self.phase == Phase::File {
            match self.content_run(dst.len() - filled).await? {
                Some(run) => {
                    let n = run.len();
                    dst[filled..filled + n].copy_from_slice(&self.buf[run]);
                    filled += n;
                }
                None => {
                    self.phase = Phase::AfterFile;
                    self.after_file_end = self.consumed + POST_FORM_AFTER_FILE_BYTES_MAX;
                }
            }
        }
        Ok(filled)
    }
}

/// The boundary of a `multipart/form-data` body from its `Content-Type`;
/// anything else is not a browser form upload.
pub fn boundary_of(content_type: Option<&str>) -> S3Result<String> {
    let not_a_form = || {
        S3Error::new(
            S3ErrorCode::PreconditionFailed,
            "At least one of the pre-conditions you specified did not hold",
        )
        .with_detail(
            "Condition",
            "Bucket POST must be of the enclosure-type multipart/form-data",
        )
    };
    let content_type = content_type.ok_or_else(not_a_form)?;
    let (mime, params) = content_type.split_once(';').unwrap_or((content_type, ""));
    if !mime.trim().eq_ignore_ascii_case("multipart/form-data") {
        return Err(not_a_form());
    }
    let boundary = parameters(params)?
        .into_iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("boundary"))
        .map(|(_, value)| value)
        .ok_or_else(malformed)?;
    let valid = !boundary.is_empty()
        && boundary.len() <= BOUNDARY_BYTES_MAX
        && !boundary.ends_with(' ')
        && boundary.bytes().all(|b| (b' '..=b'~').contains(&b));
    if !valid {
        return Err(malformed());
    }
    Ok(boundary)
}

/// AWS's answer to a form without exactly one file (`count` of them).
pub fn file_count_error(count: u32) -> S3Error {
    S3Error::new(
        S3ErrorCode::InvalidArgument,
        "POST requires exactly one file upload per request.",
    )
    .with_detail("ArgumentName", FILE_FIELD)
    .with_detail("ArgumentValue", count.to_string())
}

fn malformed() -> S3Error {
    S3Error::new(
        S3ErrorCode::MalformedPOSTRequest,
        "The body of your POST request is not well-formed multipart/form-data.",
    )
}

fn pre_data_too_large() -> S3Error {
    // AWS's wording, spelling included, so clients recognise it.
    S3Error::new(
        S3ErrorCode::MaxPostPreDataLengthExceeded,
        "Your POST request fields preceeding the upload file was too large.",
    )
    .with_detail(
        "MaxPostPreDataLengthBytes",
        POST_FORM_FIELDS_BYTES_MAX.to_string(),
    )
}

fn too_many_fields() -> S3Error {
    S3Error::new(
        S3ErrorCode::MalformedPOSTRequest,
        format!("Your POST request has more than {POST_FORM_FIELDS_COUNT_MAX} fields."),
    )
}

/// A part's `Content-Disposition: form-data; name="..."; filename="..."`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PartHead {
    name: String,
    filename: Option<String>,
}

fn parse_disposition(value: &str) -> S3Result<PartHead> {
    let (kind, params) = value.split_once(';').unwrap_or((value, ""));
    if !kind.trim().eq_ignore_ascii_case("form-data") {
        return Err(malformed());
    }
    let mut name = None;
    let mut filename = None;
    for (param, value) in parameters(params)? {
        if param.eq_ignore_ascii_case("name") {
            name = Some(value);
        } else if param.eq_ignore_ascii_case("filename") {
            filename = Some(value);
        }
    }
    match name {
        Some(name) if !name.is_empty() => Ok(PartHead { name, filename }),
        _ => Err(malformed()),
    }
}

/// `; a=b; c="d e"` into `[(a, b), (c, d e)]`. In a quoted value a backslash
/// escapes only `"` and `\`: browsers send Windows paths with bare
/// backslashes (`C:\dir\file.txt`), which must survive as they are.
fn parameters(text: &str) -> S3Result<Vec<(String, String)>> {
    let mut params = Vec::new();
    let mut rest = text.trim_start_matches([' ', '\t', ';']);
    while !rest.is_empty() {
        let (name, after) = rest.split_once('=').ok_or_else(malformed)?;
        let name = name.trim();
        let after = after.trim_start_matches([' ', '\t']);
        let (value, after) = match after.strip_prefix('"') {
            Some(quoted) => quoted_string(quoted)?,
            None => {
                let end = after.find([';', ' ', '\t']).unwrap_or(after.len());
                (after[..end].to_owned(), &after[end..])
            }
        };
        if name.is_empty() {
            return Err(malformed());
        }
        params.push((name.to_owned(), value));
        rest = after.trim_start_matches([' ', '\t']);
        match rest.strip_prefix(';') {
            Some(next) => rest = next.trim_start_matches([' ', '\t', ';']),
            None if rest.is_empty() => {}
            None => return Err(malformed()),
        }
    }
    Ok(params)
}

/// The value of a quoted string whose opening quote was removed, and what
/// follows its closing quote.
fn quoted_string(text: &str) -> S3Result<(String, &str)> {
    let mut value = String::new();
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((value, &text[i + 1..])),
            '\\' if matches!(text[i + 1..].chars().next(), Some('"' | '\\')) => {
                let (_, escaped) = chars.next().expect("peeked");
                value.push(escaped);
            }
            c => value.push(c),
        }
    }
    Err(malformed())
}

/// The first position of `needle` in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    let first = needle[0];
    let mut from = 0;
    while let Some(offset) = haystack[from..].iter().position(|b| *b == first) {
        let at = from + offset;
        let candidate = haystack.get(at..at + needle.len())?;
        if candidate == needle {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A body that arrives `piece` bytes at a time.
    struct Body {
        data: Vec<u8>,
        at: usize,
        piece: usize,
    }

    impl ByteSource for Body {
        async fn read_full(&mut self, _dst: &mut [u8]) -> S3Result<usize> {
            unreachable!("the form reader reads what has arrived")
        }

        async fn read_some(&mut self, dst: &mut [u8]) -> S3Result<usize> {
            let n = dst.len().min(self.piece).min(self.data.len() - self.at);
            dst[..n].copy_from_slice(&self.data[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    /// Runs a future that never waits (the test sources are in memory).
    fn run<F: std::future::Future>(future: F) -> F::Output {
        let mut future = std::pin::pin!(future);
        let mut context = std::task::Context::from_waker(std::task::Waker::noop());
        match future.as_mut().poll(&mut context) {
            std::task::Poll::Ready(output) => output,
            std::task::Poll::Pending => panic!("an in-memory form never waits"),
        }
    }

    const BOUNDARY: &str = "----WebKitFormBoundary7MA4YWxkTrZu0gW";

    fn form(fields: &[(&str, &str)], file: Option<&[u8]>, after: &str) -> Vec<u8> {
        let mut body = Vec::new();
        for (name, value) in fields {
            body.extend_from_slice(
                format!(
                    "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n\
                     {value}\r\n"
                )
                .as_bytes(),
            );
        }
        if let Some(file) = file {
            body.extend_from_slice(
                format!(
                    "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; \
                     filename=\"C:\\dir\\a.txt\"\r\nContent-Type: text/plain\r\n\r\n"
                )
                .as_bytes(),
            );
            body.extend_from_slice(file);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(after.as_bytes());
        body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
        body
    }

    /// Parses a whole form arriving `piece` bytes at a time, reading the
    /// file `chunk` bytes at a time.
    fn parse(body: &[u8], piece: usize, chunk: usize) -> S3Result<(FormFields, Option<Vec<u8>>)> {
        let source = Body {
            data: body.to_vec(),
            at: 0,
            piece,
        };
        let mut reader = FormReader::new(source, BOUNDARY);
        run(async {
            let fields = reader.read_fields().await?;
            if fields.file.is_none() {
                return Ok((fields, None));
            }
            let mut file = Vec::new();
            let mut dst = vec![0; chunk];
            loop {
                let n = reader.read_full(&mut dst).await?;
                file.extend_from_slice(&dst[..n]);
                if n < chunk {
                    break;
                }
            }
            let source = reader.finish().await?;
            assert_eq!(source.at, source.data.len(), "the body is read to its end");
            Ok((fields, Some(file)))
        })
    }

    fn pairs(fields: &FormFields) -> Vec<(&str, &str)> {
        let pairs = fields.fields.iter();
        pairs.map(|(n, v)| (n.as_str(), v.as_str())).collect()
    }

    #[test]
    fn reads_fields_then_the_file() {
        let content = b"hello\r\n--not the boundary\r\n-- world\r";
        let body = form(
            &[("key", "a/${filename}"), ("X-Amz-Meta-Tag", "x")],
            Some(content),
            "",
        );
        let (fields, file) = parse(&body, POST_FORM_READ_BYTES, 1 << 20).unwrap();
        assert_eq!(
            pairs(&fields),
            [("key", "a/${filename}"), ("x-amz-meta-tag", "x")]
        );
        let info = fields.file.unwrap();
        assert_eq!(info.filename.as_deref(), Some("C:\\dir\\a.txt"));
        assert_eq!(file.unwrap(), content);
    }

    #[test]
    fn every_split_of_the_body_reads_the_same() {
        let content: Vec<u8> = (0..300u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut content = content;
        // Near-misses of the delimiter inside the file.
        content.extend_from_slice(format!("\r\n--{}", &BOUNDARY[..10]).as_bytes());
        content.extend_from_slice(b"\r\n-\r\r\n");
        let body = form(&[("key", "k"), ("policy", "eyJ9")], Some(&content), "");
        let expected = parse(&body, POST_FORM_READ_BYTES, 1 << 20).unwrap();
        for piece in 1..=body.len().min(200) {
            for chunk in [1, 2, 3, 5, 64, 1 << 20] {
                let got = parse(&body, piece, chunk).unwrap();
                assert_eq!(got, expected, "piece {piece} chunk {chunk}");
            }
        }
    }

    #[test]
    fn preamble_padding_and_after_file_fields_are_ignored() {
        let mut body = b"preamble\r\n".to_vec();
        body.extend_from_slice(
            format!(
                "--{BOUNDARY} \t\r\ncontent-disposition: FORM-DATA; NAME=key\r\n\r\nk\r\n\
                 --{BOUNDARY}\r\nContent-Disposition: form-data; name=\"File\"\r\n\r\n\
                 data\r\n--{BOUNDARY}\r\nContent-Disposition: form-data; name=submit\r\n\r\n\
                 Upload\r\n--{BOUNDARY}--\r\nepilogue"
            )
            .as_bytes(),
        );
        let (fields, file) = parse(&body, 7, 3).unwrap();
        assert_eq!(pairs(&fields), [("key", "k")]);
        assert_eq!(fields.file.unwrap().filename, None);
        assert_eq!(file.unwrap(), b"data");
    }

    #[test]
    fn a_form_without_a_file_says_so() {
        let body = form(&[("key", "k")], None, "");
        let (fields, file) = parse(&body, 5, 1).unwrap();
        assert_eq!(fields.file, None);
        assert_eq!(file, None);
    }

    #[test]
    fn an_empty_file_is_a_file() {
        let body = form(&[("key", "k")], Some(b""), "");
        let (_, file) = parse(&body, 3, 4).unwrap();
        assert_eq!(file.unwrap(), b"");
    }

    #[test]
    fn a_second_file_is_refused() {
        let second = format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nmore\r\n"
        );
        let body = form(&[("key", "k")], Some(b"one"), &second);
        let err = parse(&body, 11, 2).unwrap_err();
        assert_eq!(err.code, S3ErrorCode::InvalidArgument);
        assert_eq!(err.details[1], ("ArgumentValue", "2".to_owned()));
    }

    #[test]
    fn truncated_bodies_are_malformed_at_every_length() {
        let body = form(&[("key", "k"), ("acl", "private")], Some(b"0123456789"), "");
        // The closing delimiter's line end is optional; anything shorter fails.
        let complete = body.len() - 2;
        for len in 0..complete {
            let err = parse(&body[..len], 4, 3).unwrap_err();
            assert_eq!(err.code, S3ErrorCode::MalformedPOSTRequest, "cut at {len}");
        }
        parse(&body[..complete], 4, 3).unwrap();
    }

    #[test]
    fn fields_past_aws_limit_are_refused() {
        let big = "x".repeat(POST_FORM_FIELDS_BYTES_MAX);
        let body = form(&[("key", "k"), ("x-amz-meta-big", &big)], Some(b"f"), "");
        let err = parse(&body, POST_FORM_READ_BYTES, 1 << 20).unwrap_err();
        assert_eq!(err.code, S3ErrorCode::MaxPostPreDataLengthExceeded);
        // Right at the limit is fine: fields, headers and boundaries count.
        let probe = form(&[("key", "k"), ("x-amz-meta-big", "")], Some(b"f"), "");
        let file_head_bytes = probe.len() - b"f\r\n".len() - format!("--{BOUNDARY}--\r\n").len();
        let fits = "x".repeat(POST_FORM_FIELDS_BYTES_MAX - file_head_bytes);
        let body = form(&[("key", "k"), ("x-amz-meta-big", &fits)], Some(b"f"), "");
        parse(&body, 1000, 1 << 20).unwrap();
        let over = format!("{fits}x");
        let body = form(&[("key", "k"), ("x-amz-meta-big", &over)], Some(b"f"), "");
        let err = parse(&body, 1000, 1 << 20).unwrap_err();
        assert_eq!(err.code, S3ErrorCode::MaxPostPreDataLengthExceeded);
    }

    #[test]
    fn an_endless_header_line_is_refused() {
        let mut body =
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"").into_bytes();
        body.extend(std::iter::repeat_n(b'a', 3 * POST_FORM_FIELDS_BYTES_MAX));
        let err = parse(&body, 4096, 1).unwrap_err();
        assert_eq!(err.code, S3ErrorCode::MaxPostPreDataLengthExceeded);
    }

    #[test]
    fn too_many_fields_are_refused() {
        let names: Vec<String> = (0..=POST_FORM_FIELDS_COUNT_MAX)
            .map(|i| format!("x-ignore-{i}"))
            .collect();
        let fields: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "")).collect();
        let body = form(&fields, Some(b"f"), "");
        let err = parse(&body, POST_FORM_READ_BYTES, 1 << 20).unwrap_err();
        assert_eq!(err.code, S3ErrorCode::MalformedPOSTRequest);
        parse(&form(&fields[1..], Some(b"f"), ""), 100, 100).unwrap();
    }

    #[test]
    fn a_long_tail_after_the_file_is_refused() {
        let tail = format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n{}\r\n",
            "t".repeat(POST_FORM_AFTER_FILE_BYTES_MAX)
        );
        let body = form(&[("key", "k")], Some(b"f"), &tail);
        let err = parse(&body, 4096, 1 << 20).unwrap_err();
        assert_eq!(err.code, S3ErrorCode::MalformedPOSTRequest);
    }

    #[test]
    fn malformed_parts_are_refused() {
        let part = |head: &str| format!("--{BOUNDARY}\r\n{head}\r\n\r\nv\r\n--{BOUNDARY}--");
        let cases = [
            part("Content-Type: text/plain"),
            part("Content-Disposition: attachment; name=a"),
            part("Content-Disposition: form-data; name=\"\""),
            part("Content-Disposition: form-data; name=\"a"),
            part("no colon"),
            part("Content-Disposition: form-data; name=a").replacen(
                BOUNDARY,
                &format!("{BOUNDARY}x"),
                1,
            ),
            "no boundary at all".to_owned(),
        ];
        for body in cases {
            let err = parse(body.as_bytes(), 9, 9).unwrap_err();
            assert_eq!(err.code, S3ErrorCode::MalformedPOSTRequest, "{body}");
        }
        let mut latin1 =
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=a\r\n\r\n").into_bytes();
        latin1.extend_from_slice(b"\xe9\r\n");
        latin1.extend_from_slice(format!("--{BOUNDARY}--").as_bytes());
        let err = parse(&latin1, 9, 9).unwrap_err();
        assert_eq!(err.code, S3ErrorCode::MalformedPOSTRequest);
    }

    #[test]
    fn boundaries_come_from_the_content_type() {
        let ok = [
            ("multipart/form-data; boundary=abc", "abc"),
            (
                "Multipart/Form-Data;charset=utf-8; BOUNDARY=\"a b:c\"",
                "a b:c",
            ),
            (
                "multipart/form-data; boundary=9051914041544843365972754266",
                "9051914041544843365972754266",
            ),
        ];
        for (content_type, boundary) in ok {
            assert_eq!(boundary_of(Some(content_type)).unwrap(), boundary);
        }
        for not_form in [
            None,
            Some("text/plain"),
            Some("multipart/mixed; boundary=a"),
        ] {
            let err = boundary_of(not_form).unwrap_err();
            assert_eq!(err.code, S3ErrorCode::PreconditionFailed);
        }
        let long = format!("multipart/form-data; boundary={}", "b".repeat(71));
        for bad in [
            "multipart/form-data",
            "multipart/form-data; boundary=",
            long.as_str(),
        ] {
            let err = boundary_of(Some(bad)).unwrap_err();
            assert_eq!(err.code, S3ErrorCode::MalformedPOSTRequest, "{bad}");
        }
    }

    #[test]
    fn fields_arriving_after_the_deadline_time_out() {
        let body = form(&[("key", "k")], Some(b"f"), "");
        let source = Body {
            data: body,
            at: 0,
            piece: 8,
        };
        let mut reader = FormReader::new(source, BOUNDARY);
        reader.fields_deadline = Instant::now() - Duration::from_millis(1);
        let err = run(reader.read_fields()).unwrap_err();
        assert_eq!(err.code, S3ErrorCode::RequestTimeout);
    }

    #[test]
    fn disposition_parameters() {
        let head = parse_disposition(r#" form-data; name="file"; filename="a \"q\" \x\\y.txt""#);
        let head = head.unwrap();
        assert_eq!(head.name, "file");
        assert_eq!(head.filename.as_deref(), Some(r#"a "q" \x\y.txt"#));
        assert!(parse_disposition("form-data; filename=a").is_err());
        assert!(parse_disposition("form-data; name=a b=c").is_err());
    }
}
