//! The web console's static files (`assets/`: HTML, CSS and JavaScript modules, no build step),
//! embedded at compile time with their content type, ETag and a gzip copy (see build.rs).
//!
//! Owns: the file table and its lookup. Serving (headers, compression choice, the
//! Content-Security-Policy) is the console listener's, in `cluster::admin::server`. With
//! `MAXIOFS_CONSOLE_DIR` set, files are read from that directory at each request instead, so
//! the console can be worked on without rebuilding the server.
#![forbid(unsafe_code)]

/// One embedded file.
#[derive(Debug)]
pub struct StaticFile {
    /// `/index.html`, `/js/app.js`, ...
    pub path: &'static str,
    pub content_type: &'static str,
    /// A strong ETag, quoted.
    pub etag: &'static str,
    pub bytes: &'static [u8],
    pub gzip: &'static [u8],
}

include!(concat!(env!("OUT_DIR"), "/files.rs"));

/// The embedded file at `path` (`/` is `/index.html`).
pub fn embedded(path: &str) -> Option<&'static StaticFile> {
    let path = if path == "/" { "/index.html" } else { path };
    FILES.iter().find(|file| file.path == path)
}

/// The content type a file's name implies.
pub fn content_type(path: &str) -> &'static str {
    include!("content_type.rs")
}

/// Bytes of every embedded file and of their gzip copies: what the console adds to the binary.
pub fn embedded_bytes() -> (usize, usize) {
    FILES.iter().fold((0, 0), |(raw, gzip), file| {
        (raw + file.bytes.len(), gzip + file.gzip.len())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_index_is_embedded_with_its_type_and_a_smaller_gzip_copy() {
        let index = embedded("/").expect("index.html is embedded");
        assert_eq!(index.path, "/index.html");
        assert_eq!(index.content_type, "text/html; charset=utf-8");
        assert!(index.gzip.len() < index.bytes.len());
        assert!(index.etag.starts_with('"') && index.etag.ends_with('"'));
        assert!(embedded("/no-such-file").is_none());
        assert_eq!(content_type("/js/app.js"), "text/javascript; charset=utf-8");
        let (raw, gzip) = embedded_bytes();
        assert!(gzip < raw);
    }
}
