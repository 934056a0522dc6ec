//! Products as the tests drive them: registration, signed datagrams,
//! protocol calls, and watching statuses through the console API.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use app::api::NodeRole;
use protocol::Kind;
use reqwest::header::AUTHORIZATION;
use serde_json::{json, Value};
use server::config::Config;
use testkit::ENROLLMENT_SECRET;
use testkit::{self, TestDb};

use super::{client, get};

/// A registered product, as an agent would hold it.
pub struct Product {
    pub id: String,
    pub key: String,
    pub udp: String,
}

pub fn fast_config(db: &TestDb, name: &str) -> Config {
    let mut config = testkit::config(db, name, NodeRole::Active);
    config.heartbeat_interval = Duration::from_secs(1);
    config.offline_after = Some(Duration::from_secs(2));
    config
}

/// The registration body the tests send for `uuid`.
fn registration(uuid: &str, callback: Option<&str>) -> Value {
    json!({
        "enrollment_secret": ENROLLMENT_SECRET,
        "uuid": uuid,
        "name": format!("product-{}", &uuid[..4]),
        "product_type": "firewall",
        "version": "1.0",
        "callback_url": callback,
    })
}

pub async fn register(node: &str, uuid: &str, callback: Option<&str>) -> (u16, Value) {
    let response = client()
        .post(format!("{node}/api/v1/products/register"))
        .json(&registration(uuid, callback))
        .send()
        .await
        .unwrap();
    (
        response.status().as_u16(),
        response.json().await.unwrap_or(Value::Null),
    )
}

/// Registers `uuid` again, proving it is the product with its current key.
pub async fn reregistered(node: &str, uuid: &str, current: &Product) -> Product {
    let response = client()
        .post(format!("{node}/api/v1/products/register"))
        .header(AUTHORIZATION, format!("Bearer {}", current.key))
        .json(&registration(uuid, None))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    Product {
        id: body["product_id"].as_str().unwrap().to_owned(),
        key: body["key"].as_str().unwrap().to_owned(),
        udp: body["udp_endpoint"].as_str().unwrap().to_owned(),
    }
}

pub async fn registered(node: &str, uuid: &str) -> Product {
    let (status, body) = register(node, uuid, None).await;
    assert_eq!(status, 200, "{body}");
    Product {
        id: body["product_id"].as_str().unwrap().to_owned(),
        key: body["key"].as_str().unwrap().to_owned(),
        udp: body["udp_endpoint"].as_str().unwrap().to_owned(),
    }
}

pub fn new_uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

pub fn datagram(p: &Product, kind: Kind, seq: u64, payload: &[u8]) -> Vec<u8> {
    let id = *uuid::Uuid::parse_str(&p.id).unwrap().as_bytes();
    protocol::encode(
        kind,
        id,
        seq,
        now_ms(),
        payload,
        &hex::decode(&p.key).unwrap(),
    )
}

pub async fn call(node: &str, p: &Product, what: &str, body: Value) -> u16 {
    let request = if what == "commands" {
        client().get(format!("{node}/api/v1/products/{}/commands", p.id))
    } else {
        client()
            .post(format!("{node}/api/v1/products/{}/{what}", p.id))
            .json(&body)
    };
    request
        .header(AUTHORIZATION, format!("Bearer {}", p.key))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Runs the product's handshake; returns the reply.
pub async fn handshake(node: &str, p: &Product) -> Value {
    client()
        .post(format!("{node}/api/v1/products/{}/handshake", p.id))
        .header(AUTHORIZATION, format!("Bearer {}", p.key))
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

pub async fn status_of(node: &str, cookie: &str, id: &str) -> Value {
    let (status, body) = get(&format!("{node}/api/v1/products/{id}"), Some(cookie)).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// Waits until the product has `status`, up to `within`.
pub async fn wait_status(
    node: &str,
    cookie: &str,
    id: &str,
    status: &str,
    within: Duration,
) -> Value {
    let until = Instant::now() + within;
    loop {
        let body = status_of(node, cookie, id).await;
        if body["product"]["status"] == status {
            return body;
        }
        assert!(
            Instant::now() < until,
            "still {} after {within:?}, wanted {status}",
            body["product"]["status"]
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A node's count of datagrams with `result`.
pub async fn metric(node: &str, result: &str) -> u64 {
    let series = format!("vigil_udp_datagrams_total{{result=\"{result}\"}}");
    super::metric_value(node, &series)
        .await
        .expect("metric present")
}

/// Two-way products as the tests run them: one callback server answers the
/// wake-ups of many products, each of which then fetches its commands from
/// the node it reports to and posts a result.
pub mod two_way {
    use std::collections::HashMap;
    use std::net::SocketAddr;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, Mutex};

    use axum::body::Bytes;
    use axum::extract::{Path, State};
    use axum::http::{HeaderMap, StatusCode};
    use reqwest::header::AUTHORIZATION;
    use serde_json::{json, Value};

    /// What the callback server knows of a product.
    #[derive(Clone)]
    pub struct Sim {
        pub key: String,
        /// The node it reports to (and fetches from).
        pub node: String,
        /// Answers wake-ups with this status (204 normally).
        pub answer: u16,
        /// Answers wake-ups this late (a slow product).
        pub delay_ms: u64,
        /// Fetches its commands when woken (off: only answers).
        pub fetch: bool,
    }

    #[derive(Clone, Default)]
    pub struct Callbacks {
        pub products: Arc<Mutex<HashMap<String, Sim>>>,
        pub woken: Arc<AtomicU64>,
        pub bad_signatures: Arc<AtomicU64>,
        pub results: Arc<AtomicU64>,
    }

    impl Callbacks {
        /// Serves on `ip` (any free port); returns the callback URL base
        /// (`http://ip:port/wake/`, the product id goes after it).
        pub async fn serve(&self, ip: [u8; 4]) -> String {
            let app = axum::Router::new()
                .route("/wake/{id}", axum::routing::post(wake))
                .with_state(self.clone());
            let listener = tokio::net::TcpListener::bind(SocketAddr::from((ip, 0)))
                .await
                .expect("bind callback server");
            let url = format!("http://{}/wake/", listener.local_addr().unwrap());
            tokio::spawn(async move { axum::serve(listener, app).await });
            url
        }

        /// Registers a product on `node` whose callback this server answers
        /// (at `base`, from [`Self::serve`]); returns it with its nonce.
        pub async fn register(&self, node: &str, base: &str) -> (super::Product, String) {
            let uuid = super::new_uuid();
            let (status, body) = super::register(node, &uuid, Some(&format!("{base}{uuid}"))).await;
            assert_eq!(status, 200, "{body}");
            let p = super::Product {
                id: body["product_id"].as_str().unwrap().into(),
                key: body["key"].as_str().unwrap().into(),
                udp: body["udp_endpoint"].as_str().unwrap().into(),
            };
            self.add(&p.id, &p.key, node);
            (p, body["nonce"].as_str().unwrap().into())
        }

        pub fn add(&self, id: &str, key: &str, node: &str) {
            self.products.lock().unwrap().insert(
                id.to_owned(),
                Sim {
                    key: key.to_owned(),
                    node: node.to_owned(),
                    answer: 204,
                    delay_ms: 0,
                    fetch: true,
                },
            );
        }

        pub fn set_answer(&self, id: &str, status: u16) {
            self.products.lock().unwrap().get_mut(id).unwrap().answer = status;
        }

        pub fn set_fetch(&self, id: &str, fetch: bool) {
            self.products.lock().unwrap().get_mut(id).unwrap().fetch = fetch;
        }

        pub fn set_delay(&self, id: &str, ms: u64) {
            self.products.lock().unwrap().get_mut(id).unwrap().delay_ms = ms;
        }

        pub fn move_to(&self, id: &str, node: &str) {
            self.products.lock().unwrap().get_mut(id).unwrap().node = node.to_owned();
        }
    }

    async fn wake(
        State(cb): State<Callbacks>,
        Path(id): Path<String>,
        headers: HeaderMap,
        body: Bytes,
    ) -> StatusCode {
        let Some(sim) = cb.products.lock().unwrap().get(&id).cloned() else {
            return StatusCode::NOT_FOUND;
        };
        let signature = headers
            .get("x-vigil-signature")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let expected = protocol::sign_hex(&body, &hex::decode(&sim.key).unwrap());
        if signature != expected || &body[..] != br#"{"wake":true}"# {
            cb.bad_signatures.fetch_add(1, Ordering::Relaxed);
            return StatusCode::UNAUTHORIZED;
        }
        if sim.delay_ms > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(sim.delay_ms)).await;
        }
        if sim.answer != 204 {
            return StatusCode::from_u16(sim.answer).unwrap();
        }
        cb.woken.fetch_add(1, Ordering::Relaxed);
        if !sim.fetch {
            return StatusCode::NO_CONTENT;
        }
        let results = cb.results.clone();
        tokio::spawn(async move { fetch_and_answer(&sim, &id, &results).await });
        StatusCode::NO_CONTENT
    }

    /// What a product does when woken: fetch, run, post results.
    pub async fn fetch_and_answer(sim: &Sim, id: &str, results: &AtomicU64) {
        let client = super::client();
        let Ok(reply) = client
            .get(format!("{}/api/v1/products/{id}/commands", sim.node))
            .header(AUTHORIZATION, format!("Bearer {}", sim.key))
            .send()
            .await
        else {
            return;
        };
        let Ok(body) = reply.json::<Value>().await else {
            return;
        };
        for c in body["commands"].as_array().cloned().unwrap_or_default() {
            let cid = c["id"].as_str().unwrap();
            let posted = client
                .post(format!(
                    "{}/api/v1/products/{id}/commands/{cid}/result",
                    sim.node
                ))
                .header(AUTHORIZATION, format!("Bearer {}", sim.key))
                .json(&json!({"status": "succeeded", "output": {"ran": c["kind"]}}))
                .send()
                .await;
            if matches!(posted, Ok(r) if r.status() == 204) {
                results.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}
