//! Managed products: registration, handshake and the console's product list.

use crate::common;

use std::time::{Duration, Instant};

use common::products::*;
use common::{client, error_code, get, login};
use protocol::Kind;
use reqwest::header::AUTHORIZATION;
use serde_json::{json, Value};
use testkit::{self, TestNode};
use tokio::net::UdpSocket;

#[tokio::test]
async fn registering_twice_updates_one_product() {
    for db in testkit::databases().await {
        let a = TestNode::start(fast_config(&db, "node-a")).await;
        let uuid = new_uuid();
        let first = registered(&a.url, &uuid).await;
        let second = reregistered(&a.url, &uuid.to_uppercase(), &first).await;
        assert_eq!(first.id, second.id, "{}", db.engine);
        assert_ne!(first.key, second.key, "a new key each time");
        let cookie = login(&a.url).await;
        let (_, list) = get(&format!("{}/api/v1/products", a.url), Some(&cookie)).await;
        assert_eq!(list["total"], 1, "{}", db.engine);
        assert_eq!(list["products"][0]["status"], "pending");
        let (_, counts) = get(&format!("{}/api/v1/products/counts", a.url), Some(&cookie)).await;
        assert_eq!(
            counts,
            json!({"pending": 1, "online": 0, "offline": 0, "unmanaged": 0})
        );
        // The old key no longer works.
        assert_eq!(call(&a.url, &first, "heartbeat", json!({})).await, 401);
        a.stop().await;
    }
}

#[tokio::test]
async fn bad_registrations_get_json_errors() {
    for db in testkit::databases().await {
        let a = TestNode::start(fast_config(&db, "node-a")).await;
        let url = format!("{}/api/v1/products/register", a.url);
        let wrong_secret = client()
            .post(&url)
            .json(
                &json!({"enrollment_secret": "guess", "uuid": new_uuid(), "name": "x",
                          "product_type": "t", "version": "1"}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(wrong_secret.status(), 401, "{}", db.engine);
        let body: Value = wrong_secret.json().await.unwrap();
        assert_eq!(error_code(&body), "bad_enrollment_secret");
        let (status, body) = register(&a.url, "not-a-uuid", None).await;
        assert_eq!((status, error_code(&body)), (400, "invalid_registration"));
        a.stop().await;
    }
}

#[tokio::test]
async fn handshake_picks_udp_when_the_hello_arrives_and_http_when_not() {
    for db in testkit::databases().await {
        let a = TestNode::start(fast_config(&db, "node-a")).await;
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();

        let (_, reply) = register(&a.url, &new_uuid(), None).await;
        let p = Product {
            id: reply["product_id"].as_str().unwrap().into(),
            key: reply["key"].as_str().unwrap().into(),
            udp: reply["udp_endpoint"].as_str().unwrap().into(),
        };
        let hello = json!({"nonce": reply["nonce"]}).to_string();
        socket
            .send_to(&datagram(&p, Kind::Hello, 1, hello.as_bytes()), &p.udp)
            .await
            .unwrap();
        let response = client()
            .post(format!("{}/api/v1/products/{}/handshake", a.url, p.id))
            .header(AUTHORIZATION, format!("Bearer {}", p.key))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            body,
            json!({"transport": "udp", "mode": "one_way"}),
            "{}",
            db.engine
        );

        let silent = registered(&a.url, &new_uuid()).await;
        let started = Instant::now();
        let response = client()
            .post(format!("{}/api/v1/products/{}/handshake", a.url, silent.id))
            .header(AUTHORIZATION, format!("Bearer {}", silent.key))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["transport"], "http", "{}", db.engine);
        assert!(started.elapsed() < Duration::from_secs(5));
        a.stop().await;
    }
}

/// A product's callback endpoint: answers 204 when the signature is right.
async fn callback_server(key: std::sync::Arc<std::sync::Mutex<String>>) -> String {
    use axum::routing::post;
    let app = axum::Router::new().route(
        "/wake",
        post(
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let key = key.clone();
                async move {
                    let key = hex::decode(key.lock().unwrap().as_str()).unwrap_or_default();
                    let expected = protocol::sign_hex(&body, &key);
                    let given = headers
                        .get("x-vigil-signature")
                        .and_then(|v| v.to_str().ok());
                    if given == Some(expected.as_str()) && body.as_ref() == br#"{"wake":true}"# {
                        axum::http::StatusCode::NO_CONTENT
                    } else {
                        axum::http::StatusCode::FORBIDDEN
                    }
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/wake", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

#[tokio::test]
async fn handshake_picks_two_way_when_the_callback_answers() {
    for db in testkit::databases().await {
        let a = TestNode::start(fast_config(&db, "node-a")).await;
        let key = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let callback = callback_server(key.clone()).await;
        let (_, reply) = register(&a.url, &new_uuid(), Some(&callback)).await;
        *key.lock().unwrap() = reply["key"].as_str().unwrap().into();
        let handshake = |id: String, bearer: String| {
            client()
                .post(format!("{}/api/v1/products/{id}/handshake", a.url))
                .header(AUTHORIZATION, format!("Bearer {bearer}"))
                .json(&json!({}))
                .send()
        };
        let body: Value = handshake(
            reply["product_id"].as_str().unwrap().into(),
            reply["key"].as_str().unwrap().into(),
        )
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        assert_eq!(body["mode"], "two_way", "{}", db.engine);

        let (_, unreachable) = register(&a.url, &new_uuid(), Some("http://127.0.0.1:9/wake")).await;
        let body: Value = handshake(
            unreachable["product_id"].as_str().unwrap().into(),
            unreachable["key"].as_str().unwrap().into(),
        )
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        assert_eq!(body["mode"], "one_way", "{}", db.engine);
        a.stop().await;
    }
}

#[tokio::test]
async fn the_product_list_filters_sorts_and_pages() {
    for db in testkit::databases().await {
        let a = TestNode::start(fast_config(&db, "node-a")).await;
        let cookie = login(&a.url).await;
        let mut all = Vec::new();
        for _ in 0..5 {
            all.push(registered(&a.url, &new_uuid()).await);
        }
        assert_eq!(call(&a.url, &all[0], "heartbeat", json!({})).await, 204);
        wait_status(
            &a.url,
            &cookie,
            &all[0].id,
            "online",
            Duration::from_secs(3),
        )
        .await;
        let page = |query: &str| get_page(&a.url, &cookie, query.to_owned());
        let (total, names) = page("limit=2&offset=2").await;
        let (_, first) = page("limit=2").await;
        assert!(
            names.iter().all(|n| !first.contains(n)),
            "pages do not overlap"
        );
        assert_eq!((total, names.len()), (5, 2), "{}", db.engine);
        let (total, _) = page("status=online").await;
        assert_eq!(total, 1);
        let (total, _) = page(&format!("q={}", &all[3].id[..8].to_uppercase())).await;
        assert_eq!(total, 1, "{}: search by id, any case", db.engine);
        let (_, by_status) = page("sort=status").await;
        assert_eq!(by_status.len(), 5);
        let (status, body) = get(
            &format!("{}/api/v1/products?sort=size", a.url),
            Some(&cookie),
        )
        .await;
        assert_eq!((status.as_u16(), error_code(&body)), (400, "invalid_sort"));
        a.stop().await;
    }
}

async fn get_page(node: &str, cookie: &str, query: String) -> (i64, Vec<String>) {
    let (status, body) = get(&format!("{node}/api/v1/products?{query}"), Some(cookie)).await;
    assert_eq!(status, 200, "{body}");
    let names = body["products"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_owned())
        .collect();
    (body["total"].as_i64().unwrap(), names)
}
