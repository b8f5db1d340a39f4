//! The notifier against a real HTTP receiver on loopback: order, an outage,
//! a restart with events waiting, and a deleted target.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::*;
use crate::outbound::http_post::HttpTarget;

/// Answers every POST with 200 (or 503 while `down`) and keeps the bodies
/// of those it accepted.
struct Receiver {
    port: u16,
    down: Arc<AtomicBool>,
    bodies: Arc<Mutex<Vec<String>>>,
}

fn receiver() -> Receiver {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let down = Arc::new(AtomicBool::new(false));
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let (down_seen, bodies_kept) = (down.clone(), bodies.clone());
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                let lower = line.to_ascii_lowercase();
                if let Some(value) = lower.strip_prefix("content-length:") {
                    length = value.trim().parse().unwrap();
                }
                if line == "\r\n" {
                    break;
                }
            }
            let mut body = vec![0; length];
            if reader.read_exact(&mut body).is_err() {
                continue;
            }
            let status = if down_seen.load(Ordering::SeqCst) {
                "503 Service Unavailable"
            } else {
                bodies_kept
                    .lock()
                    .unwrap()
                    .push(String::from_utf8(body).unwrap());
                "200 OK"
            };
            let _ = write!(stream, "HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n");
        }
    });
    Receiver { port, down, bodies }
}

fn spec(receiver: &Receiver, id: &str) -> TargetSpec {
    TargetSpec {
        key: "123456789012/hook".into(),
        id: id.into(),
        http: HttpTarget::parse(&format!("http://127.0.0.1:{}/events", receiver.port)).unwrap(),
        tls: None,
    }
}

fn enqueue(notifier: &Notifier, bodies: &[String]) -> bool {
    let (done, answer) = oneshot::channel();
    let events = bodies
        .iter()
        .map(|body| QueuedEvent {
            target: "123456789012/hook".into(),
            time_ms: 1,
            body: body.clone(),
        })
        .collect();
    notifier.enqueue(events, done);
    futures_executor_block_on(answer).unwrap()
}

/// Waits for a oneshot without an async runtime: the intake thread answers
/// within milliseconds.
fn futures_executor_block_on(
    mut answer: oneshot::Receiver<bool>,
) -> Result<bool, oneshot::Canceled> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match answer.try_recv() {
            Ok(Some(value)) => return Ok(value),
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(2)),
            Ok(None) => panic!("no answer from the intake thread"),
            Err(canceled) => return Err(canceled),
        }
    }
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(20));
    }
}

fn temp_dir(label: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "maxiofs-notify-{label}-{}-{}",
        std::process::id(),
        rand::random::<u32>()
    ));
    let _ = fs::remove_dir_all(&dir);
    dir
}

#[test]
fn delivers_in_order_through_an_outage_and_a_restart() {
    let receiver = receiver();
    let dir = temp_dir("order");
    let notifier = Notifier::start(&dir, 1 << 20).unwrap();
    notifier
        .configure(vec![spec(&receiver, "t1")], true)
        .unwrap();
    let first: Vec<String> = (0..20).map(|i| format!("{{\"n\":{i}}}")).collect();
    assert!(enqueue(&notifier, &first));
    wait_for("the first events", || {
        receiver.bodies.lock().unwrap().len() == 20
    });

    receiver.down.store(true, Ordering::SeqCst);
    let second: Vec<String> = (20..40).map(|i| format!("{{\"n\":{i}}}")).collect();
    assert!(enqueue(&notifier, &second));
    let stats = notifier.stats()[0].1.clone();
    wait_for("a failed attempt", || {
        stats.failures.load(Ordering::Relaxed) > 0
    });
    // Stopped while the target is down: the events wait on disk.
    notifier.stop();
    drop(notifier);

    receiver.down.store(false, Ordering::SeqCst);
    let notifier = Notifier::start(&dir, 1 << 20).unwrap();
    notifier
        .configure(vec![spec(&receiver, "t1")], true)
        .unwrap();
    wait_for("the events kept across the restart", || {
        receiver.bodies.lock().unwrap().len() == 40
    });
    let got = receiver.bodies.lock().unwrap().clone();
    let expected: Vec<String> = first.into_iter().chain(second).collect();
    assert_eq!(got, expected);
    let stats = notifier.stats()[0].1.clone();
    wait_for("an empty queue", || {
        stats.queued_events.load(Ordering::Relaxed) == 0
    });
    notifier.stop();
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn a_full_queue_says_so_and_a_deleted_target_drops_its_queue() {
    let receiver = receiver();
    receiver.down.store(true, Ordering::SeqCst);
    let dir = temp_dir("full");
    let limit = crate::ship::spool::FRAME_BYTES_MAX as u64;
    let notifier = Notifier::start(&dir, limit).unwrap();
    notifier
        .configure(vec![spec(&receiver, "t2")], true)
        .unwrap();
    assert!(!notifier.is_full("123456789012/hook"));
    let big = "x".repeat(40 * 1024);
    assert!(enqueue(&notifier, &[big.clone(), big]));
    assert!(notifier.is_full("123456789012/hook"));
    assert!(!notifier.is_full("123456789012/other"));
    assert!(dir.join("t2").is_dir());

    notifier.configure(Vec::new(), false).unwrap();
    wait_for("the deleted target's queue to go", || {
        !dir.join("t2").exists()
    });
    // Events for it now are counted, not queued.
    assert!(enqueue(&notifier, &["{}".to_owned()]));
    assert_eq!(notifier.unrouted(), 1);
    notifier.stop();

    // A queue left by a target deleted while the server was down goes at start.
    fs::create_dir_all(dir.join("stale")).unwrap();
    let notifier = Notifier::start(&dir, limit).unwrap();
    notifier.configure(Vec::new(), true).unwrap();
    assert!(!dir.join("stale").exists());
    notifier.stop();
    let _ = fs::remove_dir_all(&dir);
}
