//! Two-way products without an HTTP callback, on both databases: the
//! handshake tests the UDP wake path with a probe, and the product's home
//! node wakes it for its commands with a signed wake datagram.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::products::*;
use common::queue::*;
use common::{client, error_code, login};
use protocol::{Datagram, Kind};
use reqwest::header::AUTHORIZATION;
use serde_json::{json, Value};
use server::testkit::{self, TestNode};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

/// A product that reports over UDP from one socket and listens there for
/// wakes, as `vigil-agent --udp-wake` does.
struct UdpProduct {
    p: Product,
    nonce: String,
    socket: Arc<UdpSocket>,
    seq: Arc<AtomicU64>,
}

impl UdpProduct {
    async fn register(node: &str) -> Self {
        let (status, body) = register(node, &new_uuid(), None).await;
        assert_eq!(status, 200, "{body}");
        Self {
            p: Product {
                id: body["product_id"].as_str().unwrap().to_owned(),
                key: body["key"].as_str().unwrap().to_owned(),
                udp: body["udp_endpoint"].as_str().unwrap().to_owned(),
            },
            nonce: body["nonce"].as_str().unwrap().to_owned(),
            socket: Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap()),
            seq: Arc::new(AtomicU64::new(0)),
        }
    }

    fn port(&self) -> u16 {
        self.socket.local_addr().unwrap().port()
    }

    async fn hello(&self) {
        send_hello(&self.p, &self.nonce, &self.socket, &self.seq).await;
    }

    /// Answers wake probes with a hello (when `answer_probes`), and passes
    /// every other valid wake on.
    fn listen(&self, answer_probes: bool) -> mpsc::UnboundedReceiver<Value> {
        let (tx, rx) = mpsc::unbounded_channel();
        let (p, nonce, socket, seq) = (
            Product {
                id: self.p.id.clone(),
                key: self.p.key.clone(),
                udp: self.p.udp.clone(),
            },
            self.nonce.clone(),
            self.socket.clone(),
            self.seq.clone(),
        );
        tokio::spawn(async move {
            let mut buf = vec![0u8; protocol::MAX_DATAGRAM + 1];
            loop {
                let (n, from) = socket.recv_from(&mut buf).await.unwrap();
                let d = Datagram::parse(&buf[..n]).expect("a well-formed datagram");
                assert_eq!(d.kind, Kind::Wake);
                assert!(
                    d.verify(&hex::decode(&p.key).unwrap()),
                    "signed with our key"
                );
                assert_eq!(from.to_string(), p.udp, "sent from the node's UDP endpoint");
                let payload: Value = serde_json::from_slice(d.payload).unwrap_or(Value::Null);
                if payload["nonce"].is_string() {
                    assert_eq!(payload["nonce"], nonce.as_str());
                    if answer_probes {
                        send_hello(&p, &nonce, &socket, &seq).await;
                    }
                } else {
                    let _ = tx.send(payload);
                }
            }
        });
        rx
    }

    async fn handshake(&self, node: &str, body: Value) -> (u16, Value) {
        let response = client()
            .post(format!("{node}/api/v1/products/{}/handshake", self.p.id))
            .header(AUTHORIZATION, format!("Bearer {}", self.p.key))
            .json(&body)
            .send()
            .await
            .unwrap();
        (
            response.status().as_u16(),
            response.json().await.unwrap_or(Value::Null),
        )
    }
}

async fn send_hello(p: &Product, nonce: &str, socket: &UdpSocket, seq: &AtomicU64) {
    let payload = json!({ "nonce": nonce }).to_string();
    let bytes = datagram(
        p,
        Kind::Hello,
        seq.fetch_add(1, Ordering::Relaxed) + 1,
        payload.as_bytes(),
    );
    socket.send_to(&bytes, &p.udp).await.unwrap();
}

#[tokio::test]
async fn a_product_without_a_callback_is_woken_by_a_signed_datagram_and_gets_its_command() {
    for db in testkit::databases().await {
        let a = TestNode::start(queue_config(&db, "node-a")).await;
        let cookie = login(&a.url).await;
        let product = UdpProduct::register(&a.url).await;
        let mut wakes = product.listen(true);
        product.hello().await;
        let (status, reply) = product
            .handshake(&a.url, json!({"udp_port": product.port()}))
            .await;
        assert_eq!(status, 200, "{reply}");
        assert_eq!(
            (reply["transport"].as_str(), reply["mode"].as_str()),
            (Some("udp"), Some("two_way")),
            "{}",
            db.engine
        );

        let (_, queued) = queue(&a.url, &cookie, &product.p.id, "ping").await;
        let cid = queued["id"].as_str().unwrap().to_owned();
        let wake = tokio::time::timeout(Duration::from_secs(5), wakes.recv())
            .await
            .expect("a wake datagram within 5 s")
            .unwrap();
        assert_eq!(wake, Value::Null, "a plain wake has no payload");
        let commands = poll(&a.url, &product.p, 0).await;
        assert_eq!(commands.len(), 1, "{commands:?}");
        assert_eq!(commands[0]["id"], cid.as_str());
        let (status, _) = result(
            &a.url,
            &product.p,
            &cid,
            json!({"status": "succeeded", "output": "pong"}),
        )
        .await;
        assert_eq!(status, 204);
        let detail = wait_state(&a.url, &cookie, &cid, "succeeded", Duration::from_secs(5)).await;
        let timeline = notes(&detail);
        let sent_to = format!(
            "product notified (UDP wake sent to 127.0.0.1:{})",
            product.port()
        );
        assert!(
            timeline.iter().any(|n| n.contains(&sent_to)),
            "{}: {timeline:?}",
            db.engine
        );
        a.stop().await;
    }
}

#[tokio::test]
async fn a_product_that_does_not_answer_the_wake_probe_stays_one_way() {
    for db in testkit::databases().await {
        let a = TestNode::start(queue_config(&db, "node-a")).await;
        let product = UdpProduct::register(&a.url).await;
        let _ignored = product.listen(false);
        product.hello().await;
        let (status, reply) = product
            .handshake(&a.url, json!({"udp_port": product.port()}))
            .await;
        assert_eq!(status, 200, "{reply}");
        assert_eq!(
            (reply["transport"].as_str(), reply["mode"].as_str()),
            (Some("udp"), Some("one_way")),
            "{}",
            db.engine
        );
        a.stop().await;
    }
}

#[tokio::test]
async fn bad_wake_ports_get_json_errors() {
    for db in testkit::databases().await {
        let a = TestNode::start(queue_config(&db, "node-a")).await;
        let product = UdpProduct::register(&a.url).await;
        for body in [
            json!({"udp_port": 0}),
            json!({"udp_port": 70000}),
            json!({"udp_port": "x"}),
        ] {
            let (status, reply) = product.handshake(&a.url, body.clone()).await;
            assert_eq!(status, 400, "{}: {body} → {reply}", db.engine);
            assert_ne!(error_code(&reply), "<no error code>", "{reply}");
        }
        let (status, reply) = register_with(&a.url, json!({"udp_port": 0})).await;
        assert_eq!(
            (status, error_code(&reply)),
            (400, "invalid_registration"),
            "{reply}"
        );
        a.stop().await;
    }
}

/// Registers with extra fields in the request.
async fn register_with(node: &str, extra: Value) -> (u16, Value) {
    let mut body = json!({
        "enrollment_secret": server::config::DEFAULT_ENROLLMENT_SECRET,
        "uuid": new_uuid(),
        "name": "wake-port",
        "product_type": "firewall",
        "version": "1.0",
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let response = client()
        .post(format!("{node}/api/v1/products/register"))
        .json(&body)
        .send()
        .await
        .unwrap();
    (
        response.status().as_u16(),
        response.json().await.unwrap_or(Value::Null),
    )
}
