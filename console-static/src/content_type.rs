// The body of `content_type(path: &str) -> &'static str`, included by build.rs and lib.rs.
match path.rsplit('.').next().unwrap_or("") {
    "html" => "text/html; charset=utf-8",
    "js" | "mjs" => "text/javascript; charset=utf-8",
    "css" => "text/css; charset=utf-8",
    "svg" => "image/svg+xml",
    "png" => "image/png",
    "ico" => "image/x-icon",
    "json" => "application/json",
    "txt" => "text/plain; charset=utf-8",
    "woff2" => "font/woff2",
    _ => "application/octet-stream",
}
