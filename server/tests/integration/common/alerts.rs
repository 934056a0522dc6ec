//! Alert helpers: products in a given state, alert definitions, enabling,
//! waiting for firings and a local webhook receiver.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};
use server::db::Db;

use super::products::{new_uuid, register};
use super::{client, get};

/// Registers `n` products; returns their ids.
pub async fn products(node: &str, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for _ in 0..n {
        let uuid = new_uuid();
        let (status, body) = register(node, &uuid, None).await;
        assert_eq!(status, 200, "{body}");
        ids.push(body["product_id"].as_str().unwrap().to_owned());
    }
    ids
}

/// Sets products' status and home node as the fleet would; the sweep of
/// silent products leaves them so.
pub async fn set(db: &Db, ids: &[String], status: &str, home: &str) {
    for id in ids {
        sqlx::query(
            "UPDATE products SET status = $1, home_node = $2, deadline = 4000000000000 WHERE id = $3",
        )
            .bind(status)
            .bind(home)
            .bind(id)
            .execute(db.pool())
            .await
            .unwrap();
    }
}

/// Polls the open firings until `done` says they are what is expected.
pub async fn firings_until(
    node: &str,
    cookie: &str,
    what: &str,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let start = Instant::now();
    loop {
        let (status, body) = get(
            &format!("{node}/api/v1/alerts/firings?active=true"),
            Some(cookie),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let open = body.as_array().unwrap().clone();
        if done(&open) {
            return open;
        }
        assert!(
            start.elapsed() < Duration::from_secs(40),
            "{what}: still {open:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

pub fn alert(name: &str, scope: &str, condition: &str) -> Value {
    json!({
        "kind": "alert", "scope": "global", "name": name,
        "definition": "products where status = offline",
        "alert": {"condition": condition, "period": "10s", "scope": scope}
    })
}

/// Enables alert `id` on `node` through the API of `via`.
pub async fn enable_on(via: &str, cookie: &str, id: &str, node: &str) {
    let response = client()
        .put(format!("{via}/api/v1/content/{id}/nodes/{node}"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
}

/// What a webhook receiver got: event, idempotency key, signature, body.
pub type Received = std::sync::Arc<std::sync::Mutex<Vec<(String, String, String, String)>>>;

/// A local webhook receiver; refuses with 503 while `down` is set.
pub async fn receiver(down: std::sync::Arc<std::sync::atomic::AtomicBool>) -> (String, Received) {
    use axum::http::{HeaderMap, StatusCode as Code};
    use std::sync::atomic::Ordering;
    let got: Received = Default::default();
    let (kept, down2) = (got.clone(), down.clone());
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let (kept, down) = (kept.clone(), down2.clone());
            async move {
                if down.load(Ordering::SeqCst) {
                    return Code::SERVICE_UNAVAILABLE;
                }
                let h = |n: &str| {
                    headers
                        .get(n)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_owned()
                };
                kept.lock().unwrap().push((
                    h("x-vigil-event"),
                    h("idempotency-key"),
                    h("x-vigil-signature"),
                    body,
                ));
                Code::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, got)
}
