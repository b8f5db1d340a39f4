//! systemd's readiness protocol (`Type=notify`): when `NOTIFY_SOCKET` is
//! set, the server tells systemd it is serving (`READY=1`), reloading
//! (`RELOADING=1`) and stopping (`STOPPING=1`) with one datagram each.
//! Without the variable (not started by systemd) nothing is sent.

use std::os::unix::net::UnixDatagram;

const ENV_NOTIFY_SOCKET: &str = "NOTIFY_SOCKET";

/// Sends `state` (newline-separated `KEY=value` lines) to systemd. Failures
/// are logged, never fatal: the service manager may be gone.
pub fn notify(state: &str) {
    let Some(path) = std::env::var_os(ENV_NOTIFY_SOCKET) else {
        return;
    };
    if let Err(err) = notify_to(&path.to_string_lossy(), state) {
        tracing::warn!(%err, "could not notify systemd");
    }
}

/// Sends `state` to the socket at `path` (`@name`: an abstract socket).
fn notify_to(path: &str, state: &str) -> std::io::Result<usize> {
    UnixDatagram::unbound().and_then(|socket| {
        match path.strip_prefix('@') {
            // An abstract socket: its name follows a NUL byte.
            Some(name) => {
                use std::os::linux::net::SocketAddrExt;
                let address = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
                socket.send_to_addr(state.as_bytes(), &address)
            }
            None => socket.send_to(state.as_bytes(), path),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readiness_reaches_the_notify_socket() {
        let dir = std::env::temp_dir().join(format!("maxiofs-notify-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("notify.sock");
        let _ = std::fs::remove_file(&path);
        let listener = UnixDatagram::bind(&path).unwrap();
        notify_to(path.to_str().unwrap(), "READY=1\nSTATUS=serving\n").unwrap();
        let mut buf = [0u8; 64];
        let n = listener.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1\nSTATUS=serving\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
