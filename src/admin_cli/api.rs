//! The admin API client: JSON over HTTP/1.1 to the server's console port
//! (`/api/v1`, docs/admin-api.md), one session per command.
//!
//! Owns: logging in (`POST /api/v1/auth/login`) and out, the bearer token,
//! request paths with their segments and query values percent-encoded, and
//! turning an answer into JSON, raw bytes or a `Failure` from the API's
//! `{"error": {"code", "message"}}`. The connection itself (TCP or TLS,
//! timeouts, reading the answer) is `client::Transport`, shared with IAM.
//! It must not print: what a command shows is `output`'s and the command's.
//!
//! Secrets live in `Login` and `ApiClient`, whose `Debug` hides them, and
//! never reach an error message.

use std::fmt;

use s3::auth::sigv4;
use serde_json::{json, Value};

use super::client::{Failure, HttpResponse, Transport};

/// Where every admin API path starts, below the endpoint's own path.
const API_PREFIX: &str = "/api/v1";
const JSON_CONTENT_TYPE: &str = "application/json";

/// Who logs in: the root's access key id and secret key, or a console user
/// (`tenant/name`) and their password. `Debug` hides the password.
#[derive(Clone)]
pub struct Login {
    pub username: String,
    pub password: String,
    /// A TOTP code or a backup code, for accounts that enrolled one.
    pub totp: Option<String>,
}

impl fmt::Debug for Login {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Login")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("totp", &self.totp.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// The login request body.
pub fn login_body(login: &Login) -> Value {
    let mut body = json!({"username": login.username, "password": login.password});
    if let Some(code) = &login.totp {
        body["totp"] = Value::String(code.clone());
    }
    body
}

/// An admin API path: `/api/v1/` and the segments, each percent-encoded so
/// a name holding `/`, `?` or `%` stays one segment. `.` and `..` are
/// encoded too, or a server or proxy normalising the path would step up.
pub fn api_path(segments: &[&str]) -> String {
    let mut path = String::from(API_PREFIX);
    for segment in segments {
        path.push('/');
        if matches!(*segment, "." | "..") {
            path.push_str(&"%2E".repeat(segment.len()));
        } else {
            sigv4::uri_encode(&mut path, segment, true);
        }
    }
    path
}

/// `path?name=value&…` for the pairs that have a value; values are
/// percent-encoded (an RFC 3339 offset's `+` must not read as a space).
pub fn with_query(path: String, pairs: &[(&str, Option<String>)]) -> String {
    let mut out = path;
    let mut separator = '?';
    for (name, value) in pairs {
        let Some(value) = value else {
            continue;
        };
        out.push(separator);
        separator = '&';
        sigv4::uri_encode(&mut out, name, true);
        out.push('=');
        sigv4::uri_encode(&mut out, value, true);
    }
    out
}

/// The failure an error answer stands for: the API's error object, or (from
/// a proxy in between, or a server too old to have the API) the bare status.
pub fn api_error(status: u16, body: &[u8]) -> Failure {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let error = parsed.as_ref().and_then(|value| value.get("error"));
    let text = |name: &str| {
        error
            .and_then(|error| error.get(name))
            .and_then(Value::as_str)
            .filter(|text| !text.is_empty())
            .map(str::to_owned)
    };
    Failure::Refused {
        code: text("code").unwrap_or_else(|| format!("HTTP{status}")),
        message: text("message")
            .unwrap_or_else(|| format!("the server answered HTTP status {status}")),
    }
}

/// A logged-in client of one server's admin API.
pub struct ApiClient {
    transport: Transport,
    token: String,
}

impl fmt::Debug for ApiClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiClient")
            .field("endpoint", &self.transport.endpoint)
            .field("token", &"<redacted>")
            .finish()
    }
}

impl ApiClient {
    /// Logs in and keeps the session token for the calls that follow.
    pub fn login(transport: Transport, login: &Login) -> Result<Self, Failure> {
        let path = api_path(&["auth", "login"]);
        let body = login_body(login).to_string();
        let response = send(&transport, "POST", &path, None, Some(&body))?;
        let answer = match json_answer(&path, response) {
            Err(Failure::Refused { code, message })
                if code == "TotpRequired" && login.totp.is_none() =>
            {
                return Err(Failure::Refused {
                    code,
                    message: format!("{message} (give the code with --totp)"),
                })
            }
            other => other?,
        };
        let token = answer
            .get("token")
            .and_then(Value::as_str)
            .filter(|token| !token.is_empty())
            .ok_or_else(|| Failure::local(format!("{path}: the answer holds no token")))?;
        Ok(ApiClient {
            transport,
            token: token.to_owned(),
        })
    }

    /// Ends the session so scripted use does not pile up live sessions on the
    /// server. The command's work is done by now, so a failure is ignored.
    pub fn logout(&self) {
        let _ = self.request("POST", &api_path(&["auth", "logout"]), None);
    }

    pub fn get(&self, path: &str) -> Result<Value, Failure> {
        json_answer(path, self.request("GET", path, None)?)
    }

    /// A GET whose answer is passed on as it is (the audit log's CSV).
    pub fn get_raw(&self, path: &str) -> Result<Vec<u8>, Failure> {
        let response = self.request("GET", path, None)?;
        if !(200..300).contains(&response.status) {
            return Err(api_error(response.status, &response.body));
        }
        Ok(response.body)
    }

    pub fn post(&self, path: &str, body: &Value) -> Result<Value, Failure> {
        json_answer(path, self.request("POST", path, Some(body))?)
    }

    pub fn patch(&self, path: &str, body: &Value) -> Result<Value, Failure> {
        json_answer(path, self.request("PATCH", path, Some(body))?)
    }

    pub fn put(&self, path: &str, body: &Value) -> Result<Value, Failure> {
        json_answer(path, self.request("PUT", path, Some(body))?)
    }

    pub fn delete(&self, path: &str) -> Result<(), Failure> {
        json_answer(path, self.request("DELETE", path, None)?).map(|_| ())
    }

    fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<HttpResponse, Failure> {
        let body = body.map(Value::to_string);
        send(
            &self.transport,
            method,
            path,
            Some(&self.token),
            body.as_deref(),
        )
    }
}

/// One request: `path` (from `api_path`) goes below the endpoint's path, so
/// a console behind a proxy prefix is reached too.
fn send(
    transport: &Transport,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> Result<HttpResponse, Failure> {
    let endpoint = &transport.endpoint;
    let target = format!("{}{path}", endpoint.path.trim_end_matches('/'));
    let mut head = format!(
        "{method} {target} HTTP/1.1\r\nhost: {}\r\naccept: {JSON_CONTENT_TYPE}\r\n",
        endpoint.host_header()
    );
    if let Some(token) = token {
        head.push_str(&format!("authorization: Bearer {token}\r\n"));
    }
    if body.is_some() {
        head.push_str(&format!("content-type: {JSON_CONTENT_TYPE}\r\n"));
    }
    let body = body.unwrap_or("").as_bytes();
    head.push_str(&format!("content-length: {}\r\n", body.len()));
    head.push_str(&Transport::head_end());
    transport.send(head.as_bytes(), body)
}

/// A success's JSON (`null` for an empty answer such as 204), or the error.
fn json_answer(path: &str, response: HttpResponse) -> Result<Value, Failure> {
    if !(200..300).contains(&response.status) {
        return Err(api_error(response.status, &response.body));
    }
    if response.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    serde_json::from_slice(&response.body).map_err(|err| {
        Failure::local(format!(
            "{path}: the server's answer is not the admin API's JSON: {err}"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin_cli::client::Endpoint;
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpListener;
    use std::time::Duration;

    /// One request as the fake server saw it.
    #[derive(Debug)]
    struct Seen {
        request_line: String,
        authorization: Option<String>,
        body: String,
    }

    /// Answers each request in turn with the next canned answer (status,
    /// body) and hands back what it was sent.
    fn fake_server(answers: Vec<(u16, &'static str)>) -> (u16, std::thread::JoinHandle<Vec<Seen>>) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binds");
        let port = listener.local_addr().expect("address").port();
        let server = std::thread::spawn(move || {
            let mut seen = Vec::new();
            for (status, answer) in answers {
                let (stream, _) = listener.accept().expect("accepts");
                let mut reader = BufReader::new(stream);
                let mut lines = Vec::new();
                loop {
                    let mut line = String::new();
                    reader.read_line(&mut line).expect("reads");
                    let line = line.trim_end().to_owned();
                    if line.is_empty() {
                        break;
                    }
                    lines.push(line);
                }
                let header = |name: &str| {
                    lines.iter().find_map(|line| {
                        let (n, v) = line.split_once(':')?;
                        n.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
                    })
                };
                let length: u64 =
                    header("content-length").map_or(0, |v| v.parse().expect("length"));
                let mut body = String::new();
                (&mut reader)
                    .take(length)
                    .read_to_string(&mut body)
                    .expect("body");
                seen.push(Seen {
                    request_line: lines[0].clone(),
                    authorization: header("authorization"),
                    body,
                });
                let mut stream = reader.into_inner();
                write!(
                    stream,
                    "HTTP/1.1 {status} X\r\ncontent-length: {}\r\n\r\n{answer}",
                    answer.len()
                )
                .expect("answers");
            }
            seen
        });
        (port, server)
    }

    fn transport(port: u16) -> Transport {
        let endpoint = Endpoint::parse(&format!("http://127.0.0.1:{port}/console/")).expect("url");
        Transport::new(endpoint, None, Duration::from_secs(10)).expect("transport")
    }

    #[test]
    fn logs_in_then_calls_with_the_bearer_token() {
        let csv = "id,time,actor\r\n1,2026-12-06T17:00:00Z,\"a,b\"\r\n";
        let (port, server) = fake_server(vec![
            (
                200,
                r#"{"token":"tok123","csrf_token":"c","user":{"role":"system-admin"}}"#,
            ),
            (200, csv),
            (
                404,
                r#"{"error":{"code":"NotFound","message":"no tenant gone"}}"#,
            ),
            (204, ""),
        ]);
        let login = Login {
            username: "AKROOT".into(),
            password: "pw".into(),
            totp: Some("123456".into()),
        };
        let client = ApiClient::login(transport(port), &login).expect("logs in");
        let raw = client.get_raw("/api/v1/audit?format=csv").expect("csv");
        assert_eq!(raw, csv.as_bytes(), "the CSV passes through untouched");
        let missing = client.delete(&api_path(&["tenants", "gone"]));
        assert_eq!(
            missing,
            Err(Failure::Refused {
                code: "NotFound".into(),
                message: "no tenant gone".into()
            })
        );
        client.logout();
        let seen = server.join().expect("server");
        let lines: Vec<&str> = seen.iter().map(|s| s.request_line.as_str()).collect();
        assert_eq!(
            lines,
            [
                "POST /console/api/v1/auth/login HTTP/1.1",
                "GET /console/api/v1/audit?format=csv HTTP/1.1",
                "DELETE /console/api/v1/tenants/gone HTTP/1.1",
                "POST /console/api/v1/auth/logout HTTP/1.1",
            ]
        );
        let sent: Value = serde_json::from_str(&seen[0].body).expect("login JSON");
        assert_eq!(
            sent,
            json!({"username": "AKROOT", "password": "pw", "totp": "123456"})
        );
        assert_eq!(seen[0].authorization, None);
        for later in &seen[1..] {
            assert_eq!(later.authorization.as_deref(), Some("Bearer tok123"));
        }
    }

    #[test]
    fn a_missing_totp_code_is_named() {
        let (port, server) = fake_server(vec![(
            401,
            r#"{"error":{"code":"TotpRequired","message":"a TOTP code is required"}}"#,
        )]);
        let login = Login {
            username: "acme/alice".into(),
            password: "pw".into(),
            totp: None,
        };
        let refused = ApiClient::login(transport(port), &login).expect_err("refused");
        assert_eq!(
            refused,
            Failure::Refused {
                code: "TotpRequired".into(),
                message: "a TOTP code is required (give the code with --totp)".into()
            }
        );
        server.join().expect("server");
    }

    #[test]
    fn paths_and_queries_are_percent_encoded() {
        assert_eq!(api_path(&["tenants"]), "/api/v1/tenants");
        assert_eq!(
            api_path(&["tenants", "acme", "users", "a/b c+%"]),
            "/api/v1/tenants/acme/users/a%2Fb%20c%2B%25"
        );
        assert_eq!(api_path(&["buckets", ".."]), "/api/v1/buckets/%2E%2E");
        assert_eq!(
            with_query(
                api_path(&["audit"]),
                &[
                    ("from", Some("2026-12-06T17:00:00+01:00".into())),
                    ("actor", None),
                    ("action", Some("tenant.create".into())),
                ]
            ),
            "/api/v1/audit?from=2026-12-06T17%3A00%3A00%2B01%3A00&action=tenant.create"
        );
        assert_eq!(with_query("/x".into(), &[("a", None)]), "/x");
    }

    #[test]
    fn errors_come_from_the_error_object_or_the_status() {
        let body = br#"{"error": {"code": "NotEmpty", "message": "tenant acme has buckets"}}"#;
        assert_eq!(
            api_error(409, body),
            Failure::Refused {
                code: "NotEmpty".into(),
                message: "tenant acme has buckets".into()
            }
        );
        for foreign in [&b"<html>Bad Gateway</html>"[..], b"", br#"{"error": "x"}"#] {
            assert_eq!(
                api_error(502, foreign),
                Failure::Refused {
                    code: "HTTP502".into(),
                    message: "the server answered HTTP status 502".into()
                }
            );
        }
    }

    #[test]
    fn answers_are_json_or_nothing() {
        let ok = |status, body: &[u8]| HttpResponse {
            status,
            body: body.to_vec(),
        };
        assert_eq!(json_answer("/p", ok(204, b"")), Ok(Value::Null));
        assert_eq!(
            json_answer("/p", ok(200, br#"{"a": 1}"#)),
            Ok(json!({"a": 1}))
        );
        assert!(matches!(
            json_answer("/p", ok(200, b"<a/>")),
            Err(Failure::Local(_))
        ));
        assert!(matches!(
            json_answer("/p", ok(401, br#"{"error":{"code":"Unauthorized","message":"m"}}"#)),
            Err(Failure::Refused { code, .. }) if code == "Unauthorized"
        ));
    }

    #[test]
    fn login_body_sends_totp_only_when_given_and_debug_hides_secrets() {
        let mut login = Login {
            username: "AKROOT".into(),
            password: "s3cr3t".into(),
            totp: None,
        };
        assert_eq!(
            login_body(&login),
            json!({"username": "AKROOT", "password": "s3cr3t"})
        );
        login.totp = Some("123456".into());
        assert_eq!(login_body(&login)["totp"], "123456");
        let shown = format!("{login:?}");
        assert!(shown.contains("AKROOT"));
        assert!(!shown.contains("s3cr3t") && !shown.contains("123456"));
    }
}
