//! Behaviour of the HTTP server end to end: a real monoio runtime with a loopback
//! listener, driven by raw `std::net::TcpStream` clients (or rustls client streams over
//! them, for HTTPS) on the test thread.

mod bodies;
mod errors;
mod exhaustion;
mod keep_alive;
mod lifecycle;
mod support;
mod timeouts;
mod tls;
