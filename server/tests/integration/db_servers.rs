//! A database URL naming several PostgreSQL servers
//! (`host-a,host-b … target_session_attrs=read-write`): a silent server
//! first in the list (a cut link: the connection opens, nothing answers) is
//! passed over within the connect timeout, and the node runs on the next.

use std::time::{Duration, Instant};

use server::db::hosts::CONNECT_TIMEOUT;
use server::db::Db;
use tokio::net::TcpListener;

/// A server that accepts connections and never says a word.
async fn silent_server() -> (String, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    (addr, task)
}

/// `url` with `first` put before its host, and `attrs` added.
fn with_first_host(url: &str, first: &str, attrs: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let (user, rest) = rest.split_once('@').expect("a user");
    let sep = if rest.contains('?') { '&' } else { '?' };
    format!("{scheme}://{user}@{first},{rest}{sep}{attrs}")
}

#[tokio::test]
async fn a_silent_first_server_is_passed_over_for_the_next_writable_one() {
    for test_db in testkit::databases().await {
        if test_db.engine != "postgres" {
            continue;
        }
        let (silent, task) = silent_server().await;
        let url = with_first_host(&test_db.url, &silent, "target_session_attrs=read-write");
        let started = Instant::now();
        let db = tokio::time::timeout(CONNECT_TIMEOUT * 3, Db::connect(&url))
            .await
            .expect("connects within the timeouts")
            .expect("connects to the writable server");
        assert!(
            started.elapsed() >= CONNECT_TIMEOUT - Duration::from_millis(100),
            "the silent server was tried first"
        );
        assert!(
            !db.url().contains(&silent),
            "runs on the second server: {}",
            db.url()
        );
        let one: i64 = sqlx::query_scalar("SELECT CAST(1 AS BIGINT)")
            .fetch_one(db.pool())
            .await
            .expect("query");
        assert_eq!(one, 1);
        db.close().await;
        task.abort();
    }
}

#[tokio::test]
async fn no_usable_server_names_each_one_and_why() {
    for test_db in testkit::databases().await {
        if test_db.engine != "postgres" {
            continue;
        }
        let (silent, task) = silent_server().await;
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            l.local_addr().expect("addr").to_string()
        };
        let url = format!(
            "postgres://vigil:secret-password@{silent},{closed}/vigil?target_session_attrs=read-write"
        );
        let err = Db::connect(&url).await.expect_err("nothing usable");
        let text = err.to_string();
        assert!(
            text.contains(&silent) && text.contains("no answer"),
            "{text}"
        );
        assert!(text.contains(&closed), "{text}");
        assert!(
            !text.contains("secret-password"),
            "the password stays out: {text}"
        );
        task.abort();
    }
}
