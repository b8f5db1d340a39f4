//! The console listener's HTTP side: reads each admin API request (head and
//! a body of at most [`super::BODY_BYTES_MAX`]), hands it to the
//! control-plane loop as an [`AdminCall`] and writes the answer. Runs on the
//! control-plane thread's runtime; the call itself is executed in order with
//! every other control-plane request, so it sees and changes the same state.

use std::rc::Rc;

use futures_channel::oneshot;
use http::{Exchange, Handler};
use serde_json::json;

use super::{AdminCall, AdminRequest, AdminResponse, BODY_BYTES_MAX, REQUEST_READ_MS_MAX};

/// Security headers on every answer: nothing here is framed, sniffed or
/// cached.
const SECURITY_HEADERS: [(&str, &str); 4] = [
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("cache-control", "no-store"),
    (
        "content-security-policy",
        "default-src 'none'; frame-ancestors 'none'",
    ),
];

pub struct AdminHandler {
    calls: async_channel::Sender<AdminCall>,
    /// `--metrics-token`: the bearer token a scrape of `/metrics` must
    /// bring; `None`: scrapes need none.
    metrics_token: Option<String>,
    /// Where the console's `/s3/` requests go.
    s3: super::s3_proxy::ProxyTarget,
}

impl AdminHandler {
    pub fn new(
        calls: async_channel::Sender<AdminCall>,
        metrics_token: Option<String>,
        s3: super::s3_proxy::ProxyTarget,
    ) -> Rc<Self> {
        Rc::new(AdminHandler {
            calls,
            metrics_token,
            s3,
        })
    }

    /// `GET /metrics`: refused without the configured token (compared in
    /// constant time), else the control plane's exposition.
    async fn metrics(&self, ex: &mut Exchange<'_>) -> AdminResponse {
        let _ = ex.discard_body().await;
        if ex.head().method != "GET" {
            return error(405, "MethodNotAllowed", "Use GET.");
        }
        if let Some(token) = &self.metrics_token {
            let sent = ex
                .head()
                .header("authorization")
                .and_then(|value| value.strip_prefix("Bearer "))
                .unwrap_or("");
            let matches: bool =
                subtle::ConstantTimeEq::ct_eq(sent.as_bytes(), token.as_bytes()).into();
            if !matches {
                return error(401, "Unauthorized", "A bearer token is required.");
            }
        }
        let (reply, answer) = oneshot::channel();
        if self.calls.send(AdminCall::Metrics { reply }).await.is_err() {
            return error(503, "ServiceUnavailable", "The server is stopping.");
        }
        match answer.await {
            Ok(text) => AdminResponse {
                status: 200,
                content_type: super::metrics::CONTENT_TYPE,
                body: text.into_bytes(),
                set_cookie: None,
                location: None,
            },
            Err(_) => error(503, "ServiceUnavailable", "The server is stopping."),
        }
    }
}

fn error(status: u16, code: &str, message: &str) -> AdminResponse {
    AdminResponse::json(
        status,
        &json!({"error": {"code": code, "message": message}}),
    )
}

/// A path segment: percent-decoded (a `+` is a plus).
fn decode_segment(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

/// A query name or value: form-decoded (a `+` is a space).
fn decode(text: &str) -> String {
    decode_segment(&text.replace('+', " "))
}

impl Handler for AdminHandler {
    async fn handle(&self, ex: &mut Exchange<'_>) {
        let path = ex.head().path();
        if path.starts_with("/s3/") {
            return super::s3_proxy::forward(ex, &self.s3).await;
        }
        if !path.starts_with("/api/") && path != "/metrics" {
            return super::static_files::serve(ex).await;
        }
        let request_id = format!("{:016X}", rand::random::<u64>());
        let answer = self.answer(ex, &request_id).await;
        let mut headers: Vec<(&str, &str)> = SECURITY_HEADERS.to_vec();
        headers.push(("content-type", answer.content_type));
        headers.push(("x-amz-request-id", &request_id));
        if let Some(cookie) = &answer.set_cookie {
            headers.push(("set-cookie", cookie));
        }
        if let Some(location) = &answer.location {
            headers.push(("location", location));
        }
        let _ = ex
            .respond(answer.status, &headers, bytes::Bytes::from(answer.body))
            .await;
    }
}

impl AdminHandler {
    async fn answer(&self, ex: &mut Exchange<'_>, request_id: &str) -> AdminResponse {
        let head = ex.head();
        let path = head.path().to_owned();
        if path == "/metrics" {
            return self.metrics(ex).await;
        }
        let Some(rest) = path.strip_prefix("/api/v1/") else {
            let _ = ex.discard_body().await;
            return error(
                404,
                "NotFound",
                "No such path; the admin API is under /api/v1/.",
            );
        };
        let segments: Vec<String> = rest
            .split('/')
            .filter(|segment| !segment.is_empty())
            .map(decode_segment)
            .collect();
        let query: Vec<(String, String)> = head
            .query()
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| match pair.split_once('=') {
                Some((name, value)) => (decode(name), decode(value)),
                None => (decode(pair), String::new()),
            })
            .collect();
        if query.len() > 64 || segments.len() > 16 {
            let _ = ex.discard_body().await;
            return error(
                400,
                "InvalidRequest",
                "Too many path segments or parameters.",
            );
        }
        let method = head.method.clone();
        let authorization = head.header("authorization").map(str::to_owned);
        let cookie = head.header("cookie").map(str::to_owned);
        let csrf = head.header("x-csrf-token").map(str::to_owned);
        let content_type = head.header("content-type").map(str::to_owned);
        // Only the sign-in paths are answered without a session (the login,
        // the login page's single sign-on list, the OpenID Connect start and
        // callback): anything else that brings none is refused before its
        // body is read.
        let public = matches!(
            segments
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .as_slice(),
            ["auth", "login"] | ["auth", "providers"] | ["auth", "oidc", ..]
        );
        if !public && authorization.is_none() && cookie.is_none() {
            ex.close_after();
            return error(401, "Unauthorized", "Sign in first.");
        }
        if ex
            .body_len_declared()
            .is_some_and(|len| len > BODY_BYTES_MAX as u64)
        {
            ex.close_after();
            return error(413, "BodyTooLarge", "The body is larger than 64 KiB.");
        }
        let body = match read_body(ex).await {
            Ok(body) => body,
            Err(answer) => {
                ex.close_after();
                return answer;
            }
        };
        let request = AdminRequest {
            method,
            segments,
            query,
            authorization,
            cookie,
            csrf,
            content_type,
            body,
            source: ex.peer_addr().ip(),
            request_id: request_id.to_owned(),
            tls: ex.is_tls(),
            host: ex.head().header("host").map(str::to_owned),
        };
        let (reply, answer) = oneshot::channel();
        if self
            .calls
            .send(AdminCall::Api {
                request: Box::new(request),
                reply,
            })
            .await
            .is_err()
        {
            return error(503, "ServiceUnavailable", "The server is stopping.");
        }
        answer
            .await
            .unwrap_or_else(|_| error(503, "ServiceUnavailable", "The server is stopping."))
    }
}

/// The request body, at most [`BODY_BYTES_MAX`] bytes, arriving whole within
/// [`REQUEST_READ_MS_MAX`]. The deadline is checked between reads (each read
/// has the listener's own progress timeout): a read is never cancelled
/// halfway, which would leave the connection's buffer in an unknown state.
async fn read_body(ex: &mut Exchange<'_>) -> Result<Vec<u8>, AdminResponse> {
    let started = std::time::Instant::now();
    let deadline = std::time::Duration::from_millis(REQUEST_READ_MS_MAX);
    let mut body = Vec::new();
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        if started.elapsed() > deadline {
            return Err(error(
                408,
                "RequestTimeout",
                "The request did not arrive in time.",
            ));
        }
        match ex.read_body(&mut chunk).await {
            Ok(0) => return Ok(body),
            Ok(n) => {
                if body.len() + n > BODY_BYTES_MAX {
                    return Err(error(
                        413,
                        "BodyTooLarge",
                        "The body is larger than 64 KiB.",
                    ));
                }
                body.extend_from_slice(&chunk[..n]);
            }
            Err(_) => return Err(error(400, "InvalidRequest", "The body could not be read.")),
        }
    }
}
