//! The listener's limits: connections that send nothing, or headers one
//! byte at a time, are closed by the node; beyond the connection cap new
//! connections are closed at once; the node keeps answering throughout.

use crate::common;

use std::time::{Duration, Instant};

use app::api::NodeRole;
use testkit::{self, TestNode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn address(url: &str) -> String {
    url.trim_start_matches("http://").to_owned()
}

/// Waits until the node closes `stream` (a read returns 0 or an error);
/// returns how long that took, or `None` past `limit`.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    let mut buf = [0u8; 512];
    loop {
        match tokio::time::timeout_at((start + limit).into(), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return Some(start.elapsed()),
            Ok(Ok(_)) => continue, // an error page before the close
            Err(_) => return None,
        }
    }
}

async fn healthz(url: &str) -> reqwest::StatusCode {
    common::client()
        .get(format!("{url}/healthz"))
        .timeout(Duration::from_secs(2))
        .send()
        .await
        .map(|r| r.status())
        .unwrap_or(reqwest::StatusCode::REQUEST_TIMEOUT)
}

#[tokio::test]
async fn silent_and_slow_header_connections_are_closed_by_the_node() {
    let db = testkit::databases().await.remove(0);
    let mut config = testkit::config(&db, "node-a", NodeRole::Active);
    config.idle_timeout = Duration::from_millis(800);
    config.header_timeout = Duration::from_millis(800);
    let a = TestNode::start(config).await;
    let addr = address(&a.url);

    let mut silent = TcpStream::connect(&addr).await.unwrap();
    let mut slow = TcpStream::connect(&addr).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let trickle = tokio::spawn(async move {
        for _ in 0..20 {
            tokio::time::sleep(Duration::from_millis(200)).await;
            if slow.write_all(b"X").await.is_err() {
                break;
            }
        }
        closed_within(&mut slow, Duration::from_secs(1)).await
    });
    let silent_closed = closed_within(&mut silent, Duration::from_secs(5)).await;
    assert!(silent_closed.is_some(), "a silent connection stays open");
    assert!(silent_closed.unwrap() >= Duration::from_millis(700));
    let slow_closed = trickle.await.unwrap();
    assert!(
        slow_closed.is_some(),
        "a connection trickling its headers stays open"
    );
    assert_eq!(healthz(&a.url).await, 200);
    a.stop().await;
}

#[tokio::test]
async fn beyond_the_connection_cap_new_connections_are_closed_at_once() {
    let db = testkit::databases().await.remove(0);
    let mut config = testkit::config(&db, "node-a", NodeRole::Active);
    config.max_connections = 20;
    config.idle_timeout = Duration::from_secs(1);
    let a = TestNode::start(config).await;
    let addr = address(&a.url);
    let mut held = Vec::new();
    for _ in 0..20 {
        held.push(TcpStream::connect(&addr).await.unwrap());
    }
    // Let the node accept all twenty before the next one arrives.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut extra = TcpStream::connect(&addr).await.unwrap();
    let closed = closed_within(&mut extra, Duration::from_millis(500)).await;
    assert!(closed.is_some(), "the connection over the cap was kept");
    drop(held.pop()); // room for the metrics request
    tokio::time::sleep(Duration::from_millis(200)).await;
    let refused = common::metric_value(&a.url, "vigil_http_connections_refused_total").await;
    assert_eq!(refused, Some(1));
    // Once the idle ones are closed, the node answers again.
    for stream in &mut held {
        assert!(closed_within(stream, Duration::from_secs(5))
            .await
            .is_some());
    }
    assert_eq!(healthz(&a.url).await, 200);
    a.stop().await;
}

#[tokio::test]
async fn hundreds_of_idle_connections_do_not_stop_the_node_answering() {
    let db = testkit::databases().await.remove(0);
    let a = TestNode::start(testkit::config(&db, "node-a", NodeRole::Active)).await;
    let addr = address(&a.url);
    let mut held = Vec::new();
    for _ in 0..400 {
        held.push(TcpStream::connect(&addr).await.unwrap());
    }
    for _ in 0..5 {
        let start = Instant::now();
        assert_eq!(healthz(&a.url).await, 200);
        assert!(start.elapsed() < Duration::from_secs(1));
    }
    drop(held);
    a.stop().await;
}

#[test]
fn the_open_file_limit_is_raised_to_the_hard_limit() {
    server::listener::raise_open_file_limit();
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: reads the limit into a local struct.
    assert_eq!(
        unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) },
        0
    );
    assert_eq!(limit.rlim_cur, limit.rlim_max);
}
