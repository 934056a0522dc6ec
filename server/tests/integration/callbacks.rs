//! Callback URLs cannot make a node reach internal services: refused at
//! registration, and on the resolved address when the node connects.

use crate::common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use common::error_code;
use common::products::*;
use testkit::{self, TestNode};

/// A listener on loopback that counts every request; returns its base URL
/// (`http://127.0.0.1:port`).
async fn counting_listener(hits: Arc<AtomicU64>) -> (String, u16) {
    let app = axum::Router::new().fallback(move || {
        let hits = hits.clone();
        async move {
            hits.fetch_add(1, Ordering::SeqCst);
            axum::http::StatusCode::NO_CONTENT
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://127.0.0.1:{port}"), port)
}

#[tokio::test]
async fn a_node_without_the_allowance_refuses_internal_callbacks_and_never_posts_to_them() {
    for db in testkit::databases().await {
        let mut config = fast_config(&db, "node-a");
        config.callback_allow = Vec::new();
        let a = TestNode::start(config).await;
        let hits = Arc::new(AtomicU64::new(0));
        let (base, port) = counting_listener(hits.clone()).await;
        for (callback, why) in [
            (format!("{base}/internal/admin"), "loopback"),
            (format!("http://0x7f000001:{port}/"), "loopback"),
            (format!("http://[::ffff:127.0.0.1]:{port}/"), "loopback"),
            (format!("http://localhost:{port}/"), "loopback"),
            (
                "http://169.254.169.254/latest/meta-data/".into(),
                "link-local",
            ),
            ("http://10.0.0.8/wake".into(), "private"),
            ("http://a:b@example.com/".into(), "user name"),
        ] {
            let (status, body) = register(&a.url, &new_uuid(), Some(&callback)).await;
            assert_eq!(
                (status, error_code(&body)),
                (400, "invalid_registration"),
                "{}: {callback}: {body}",
                db.engine
            );
            let message = body["error"]["message"].as_str().unwrap();
            assert!(message.contains(why), "{callback}: {message}");
        }
        assert_eq!(hits.load(Ordering::SeqCst), 0, "{}", db.engine);
        a.stop().await;
    }
}

/// A product whose stored callback names a host that resolves to loopback
/// (registered before the rules, or under another node's allowance): the
/// node's resolver drops the address, so nothing is sent, unless the
/// node allows loopback.
#[tokio::test]
async fn a_name_resolving_to_loopback_is_refused_when_the_node_connects() {
    for db in testkit::databases().await {
        let store = server::db::Db::connect(&db.url).await.unwrap();
        let hits = Arc::new(AtomicU64::new(0));
        let (_, port) = counting_listener(hits.clone()).await;
        let key = "00".repeat(32);
        let stored = |name: &str| server::products::Registration {
            id: new_uuid(),
            name: name.into(),
            product_type: "test".into(),
            version: "1".into(),
            callback_url: Some(format!("http://localhost:{port}/wake")),
            udp_port: None,
            key: key.clone(),
            nonce: "n".into(),
        };
        let (strict, open) = (stored("strict"), stored("open"));
        for r in [&strict, &open] {
            server::products::store::register(&store, r, 60_000, None)
                .await
                .unwrap();
        }

        let mut config = fast_config(&db, "node-strict");
        config.callback_allow = Vec::new();
        let a = TestNode::start(config).await;
        let p = Product {
            id: strict.id.clone(),
            key: key.clone(),
            udp: String::new(),
        };
        let reply = handshake(&a.url, &p).await;
        assert_eq!(reply["mode"], "one_way", "{}: {reply}", db.engine);
        assert_eq!(hits.load(Ordering::SeqCst), 0, "{}", db.engine);

        // The same on a node that allows loopback reaches the listener.
        let b = TestNode::start(fast_config(&db, "node-open")).await;
        let p = Product {
            id: open.id.clone(),
            key,
            udp: String::new(),
        };
        handshake(&b.url, &p).await;
        assert_eq!(hits.load(Ordering::SeqCst), 1, "{}", db.engine);
        a.stop().await;
        b.stop().await;
        store.close().await;
    }
}
