//! The console's files on the console port: every path outside `/api/v1/`, `/metrics` and
//! `/s3/` is one of the embedded files (`console-static`), `/` being `index.html`. Answers carry
//! the content type, a strong ETag (a matching `If-None-Match` gets 304), the gzip copy when
//! the browser accepts it, and a Content-Security-Policy that allows only this origin's own
//! scripts, styles and connections: no inline script, no third party.

use std::borrow::Cow;

use http::{BodyLen, Exchange};

/// The console's policy: its own files and API only; images also from `data:`/`blob:` (the
/// TOTP QR code, previews); downloads are `blob:` links.
pub const CONSOLE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data: blob:; connect-src 'self'; font-src 'self'; form-action 'self'; \
     base-uri 'none'; frame-ancestors 'none'";
/// With `MAXIOFS_CONSOLE_DIR` the files are read from disk (console development); a file
/// larger than this there is refused.
const DEV_FILE_BYTES_MAX: u64 = 8 << 20;

/// A file to send.
struct Found {
    content_type: &'static str,
    etag: Cow<'static, str>,
    bytes: Cow<'static, [u8]>,
    gzip: Option<&'static [u8]>,
}

fn find(path: &str) -> Option<Found> {
    if let Some(dir) = std::env::var_os("MAXIOFS_CONSOLE_DIR") {
        return find_on_disk(std::path::Path::new(&dir), path);
    }
    let file = console_static::embedded(path)?;
    Some(Found {
        content_type: file.content_type,
        etag: Cow::Borrowed(file.etag),
        bytes: Cow::Borrowed(file.bytes),
        gzip: Some(file.gzip),
    })
}

fn find_on_disk(dir: &std::path::Path, path: &str) -> Option<Found> {
    let path = if path == "/" { "/index.html" } else { path };
    // Only plain names below the directory: no `..`, no hidden files.
    let relative = path.strip_prefix('/')?;
    let safe = relative
        .split('/')
        .all(|part| !part.is_empty() && !part.starts_with('.'));
    if !safe {
        return None;
    }
    let full = dir.join(relative);
    if std::fs::metadata(&full).ok()?.len() > DEV_FILE_BYTES_MAX {
        return None;
    }
    let bytes = std::fs::read(full).ok()?;
    let etag = format!("\"dev-{:08x}\"", crc32fast::hash(&bytes));
    Some(Found {
        content_type: console_static::content_type(path),
        etag: Cow::Owned(etag),
        bytes: Cow::Owned(bytes),
        gzip: None,
    })
}

/// Answers a request for a console file (GET or HEAD).
pub async fn serve(ex: &mut Exchange<'_>) {
    let _ = ex.discard_body().await;
    let head = ex.head();
    let method = head.method.clone();
    if method != "GET" && method != "HEAD" {
        let _ = ex
            .respond(405, &[("allow", "GET, HEAD")], bytes::Bytes::new())
            .await;
        return;
    }
    let Some(found) = find(head.path()) else {
        let body = bytes::Bytes::from_static(b"Not found.\n");
        let headers = [
            ("content-type", "text/plain; charset=utf-8"),
            ("x-content-type-options", "nosniff"),
        ];
        let _ = ex.respond(404, &headers, body).await;
        return;
    };
    let not_modified = head
        .header("if-none-match")
        .is_some_and(|tags| tags.split(',').any(|tag| tag.trim() == found.etag));
    let gzip = found.gzip.filter(|_| {
        head.header("accept-encoding").is_some_and(|accepted| {
            accepted
                .split(',')
                .any(|coding| coding.split(';').next().unwrap_or("").trim() == "gzip")
        })
    });
    let mut headers: Vec<(&str, &str)> = vec![
        ("content-type", found.content_type),
        ("etag", &found.etag),
        // Revalidated every time (cheap with the ETag): a new release shows at once.
        ("cache-control", "no-cache"),
        ("content-security-policy", CONSOLE_CSP),
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "no-referrer"),
        ("vary", "Accept-Encoding"),
    ];
    if not_modified {
        let _ = ex.send_head(304, &headers, BodyLen::Empty).await;
        return;
    }
    let body: &[u8] = match gzip {
        Some(compressed) => {
            headers.push(("content-encoding", "gzip"));
            compressed
        }
        None => &found.bytes,
    };
    if method == "HEAD" {
        let _ = ex
            .send_head(200, &headers, BodyLen::Fixed(body.len() as u64))
            .await;
        return;
    }
    let _ = ex
        .respond(200, &headers, bytes::Bytes::copy_from_slice(body))
        .await;
}
