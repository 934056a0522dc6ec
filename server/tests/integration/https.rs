//! HTTPS: a node serving TLS with a certificate from a CA the test makes,
//! `Secure` cookies and HSTS, the plain-HTTP redirect, the certificate
//! reloaded on SIGHUP without dropping open connections, and callbacks to
//! `https://` products verified against the configured CA.

use crate::common;

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use app::api::NodeRole;
use common::metric_in;
use common::products::{fast_config, handshake, new_uuid, register};
use reqwest::StatusCode;
use serde_json::json;
use testkit::process::NodeProcess;
use testkit::tls::TestCa;
use testkit::TestNode;

fn trusting(ca: &TestCa) -> reqwest::Client {
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(ca.cert_pem().as_bytes()).unwrap())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The node's `/metrics` text, through `client`.
async fn metrics_over(client: &reqwest::Client, node: &str) -> String {
    let response = client.get(format!("{node}/metrics")).send().await.unwrap();
    response.text().await.unwrap()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn a_node_serves_https_with_secure_cookies_hsts_and_a_redirect_from_plain_http() {
    for db in testkit::databases().await {
        let ca = TestCa::new("Vigil test CA");
        let (cert, key) = ca
            .issue(&["127.0.0.1", "localhost"])
            .write(&db.dir, "node")
            .unwrap();
        let redirect_port = free_port();
        let mut config = testkit::config(&db, "tls-a", NodeRole::Active);
        config.tls_cert = Some(cert);
        config.tls_key = Some(key);
        config.redirect_listen = Some(([127, 0, 0, 1], redirect_port).into());
        let node = TestNode::start(config).await;
        assert!(node.url.starts_with("https://127.0.0.1:"), "{}", node.url);
        let port = node.url.rsplit(':').next().unwrap().to_owned();

        // A client that trusts the CA: the console API, with a Secure cookie
        // and HSTS on every answer.
        let client = trusting(&ca);
        let login = client
            .post(format!("{}/api/v1/auth/login", node.url))
            .json(&json!({"username": "admin", "password": testkit::ADMIN_PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(login.status(), StatusCode::OK, "{}", db.engine);
        let cookie = login.headers()["set-cookie"].to_str().unwrap().to_owned();
        assert!(
            cookie.contains("; Secure") && cookie.contains("HttpOnly"),
            "{cookie}"
        );
        assert_eq!(
            login.headers()["strict-transport-security"],
            "max-age=31536000"
        );
        let listed = client
            .get(format!("{}/api/v1/nodes", node.url))
            .header("cookie", cookie.split(';').next().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(listed.status(), StatusCode::OK);
        let nodes: serde_json::Value = listed.json().await.unwrap();
        assert!(
            nodes.to_string().contains(&node.url),
            "the node registers its https URL: {nodes}"
        );

        // A client that does not trust the CA is refused by its own check;
        // plain HTTP on the TLS port gets no answer and is counted.
        let untrusted = reqwest::Client::new()
            .get(format!("{}/healthz", node.url))
            .send()
            .await;
        assert!(untrusted.is_err(), "{}", db.engine);
        let plain = reqwest::Client::new()
            .get(format!("http://127.0.0.1:{port}/healthz"))
            .send()
            .await;
        assert!(
            plain.map_or(true, |r| !r.status().is_success()),
            "plain HTTP on the TLS port"
        );
        let metrics = metrics_over(&client, &node.url).await;
        let failures = metric_in(&metrics, "vigil_tls_handshake_failures_total");
        assert!(failures >= Some(2), "{metrics}");

        // The API's description is public, over HTTPS too.
        let described = client
            .get(format!("{}/api/v1/openapi.json", node.url))
            .send()
            .await
            .unwrap();
        assert_eq!(described.status(), StatusCode::OK);
        let doc: serde_json::Value = described.json().await.unwrap();
        assert!(doc["paths"]["/api/v1/products/{id}/heartbeat"]["post"].is_object());

        // The plain listener redirects, path and query kept, method kept.
        let plain = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let moved = plain
            .get(format!(
                "http://127.0.0.1:{redirect_port}/products?status=offline"
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(moved.status(), StatusCode::PERMANENT_REDIRECT);
        assert_eq!(
            moved.headers()["location"],
            format!("https://127.0.0.1:{port}/products?status=offline").as_str()
        );
        // A client that follows it ends on the HTTPS node.
        let followed = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(ca.cert_pem().as_bytes()).unwrap())
            .build()
            .unwrap()
            .get(format!("http://127.0.0.1:{redirect_port}/healthz"))
            .send()
            .await
            .unwrap();
        assert_eq!(followed.status(), StatusCode::OK);
        assert_eq!(followed.url().scheme(), "https");
        node.stop().await;
    }
}

#[tokio::test]
async fn a_node_with_a_missing_key_does_not_start() {
    let db = &testkit::databases().await[0];
    let ca = TestCa::new("Vigil test CA");
    let (cert, _) = ca.issue(&["127.0.0.1"]).write(&db.dir, "lone").unwrap();
    let mut config = testkit::config(db, "tls-bad", NodeRole::Active);
    config.tls_cert = Some(cert.clone());
    config.tls_key = Some(db.dir.join("missing.key"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let e = server::Node::start(listener, config)
        .await
        .err()
        .expect("no key, no node")
        .to_string();
    assert!(e.contains("tls_key") && e.contains("missing.key"), "{e}");
}

/// The certificate files are replaced (a renewal by another CA) and the
/// node gets SIGHUP: new connections get the new certificate, a connection
/// opened before keeps working, and a broken file changes nothing.
#[tokio::test]
async fn sighup_reloads_the_certificate_and_keeps_open_connections() {
    let db = &testkit::databases().await[0];
    let (first, second) = (TestCa::new("first CA"), TestCa::new("second CA"));
    let (cert, key) = first
        .issue(&["127.0.0.1"])
        .write(&db.dir, "reload")
        .unwrap();
    let node = NodeProcess::start(
        Path::new(env!("CARGO_BIN_EXE_vigil")),
        db,
        "tls-reload",
        &[
            ("VIGIL_TLS_CERT", cert.to_str().unwrap()),
            ("VIGIL_TLS_KEY", key.to_str().unwrap()),
        ],
    )
    .await;
    let old = trusting(&first);
    let health = |client: &reqwest::Client| {
        let request = client.get(format!("{}/healthz", node.url)).send();
        async move { request.await.map(|r| r.status()) }
    };
    assert_eq!(health(&old).await.unwrap(), StatusCode::OK);

    second
        .issue(&["127.0.0.1"])
        .write(&db.dir, "reload")
        .unwrap();
    let pid = node.pid().unwrap().to_string();
    let hup = std::process::Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap();
    assert!(hup.success());
    let started = Instant::now();
    while health(&trusting(&second)).await.is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the node still serves the first certificate"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Only the first CA is trusted by `old`: its answer comes over the
    // connection opened before the reload.
    assert_eq!(health(&old).await.unwrap(), StatusCode::OK);
    assert!(health(&trusting(&first)).await.is_err());

    std::fs::write(&cert, "not a certificate").unwrap();
    assert!(std::process::Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap()
        .success());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(health(&trusting(&second)).await.unwrap(), StatusCode::OK);
    let metrics = metrics_over(&trusting(&second), &node.url).await;
    assert_eq!(
        metric_in(&metrics, "vigil_tls_reloads_total"),
        Some(1),
        "{metrics}"
    );
    drop(node);
}

/// A product whose callback is `https://`: a node given the product's CA
/// (`ca_cert`) wakes it; a node that trusts only the system's roots does
/// not, and tells the product to poll.
#[tokio::test]
async fn https_callbacks_are_verified_against_the_configured_ca() {
    for db in testkit::databases().await {
        let ca = TestCa::new("products CA");
        let hits = Arc::new(AtomicU64::new(0));
        let router = {
            let hits = hits.clone();
            axum::Router::new().fallback(move || {
                let hits = hits.clone();
                async move {
                    hits.fetch_add(1, Ordering::SeqCst);
                    axum::http::StatusCode::NO_CONTENT
                }
            })
        };
        let port = testkit::tls::serve_https(router, &db.dir, &ca.issue(&["localhost"])).await;
        let ca_file = db.dir.join("products-ca.pem");
        std::fs::write(&ca_file, ca.cert_pem()).unwrap();
        let callback = format!("https://localhost:{port}/wake");

        let strict = TestNode::start(fast_config(&db, "system-roots")).await;
        let uuid = new_uuid();
        let (status, body) = register(&strict.url, &uuid, Some(&callback)).await;
        assert_eq!(status, 200, "{body}");
        let product = common::products::Product {
            id: body["product_id"].as_str().unwrap_or(&uuid).to_owned(),
            key: body["key"].as_str().unwrap().to_owned(),
            udp: String::new(),
        };
        let reply = handshake(&strict.url, &product).await;
        assert_eq!(reply["mode"], "one_way", "{}: {reply}", db.engine);
        assert_eq!(hits.load(Ordering::SeqCst), 0);

        let mut config = fast_config(&db, "product-ca");
        config.ca_cert = Some(ca_file);
        let trusting_node = TestNode::start(config).await;
        let reply = handshake(&trusting_node.url, &product).await;
        assert_eq!(reply["mode"], "two_way", "{}: {reply}", db.engine);
        assert_eq!(hits.load(Ordering::SeqCst), 1);
        strict.stop().await;
        trusting_node.stop().await;
    }
}
