//! Two-way products without an HTTP callback, on both databases: the
//! handshake tests the UDP wake path with a probe, and the product's home
//! node wakes it for its commands with a signed wake datagram.

use crate::common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::products::*;
use common::queue::*;
use common::{client, error_code, login};
use protocol::{Datagram, Kind};
use reqwest::header::AUTHORIZATION;
use serde_json::{json, Value};
use testkit::{self, TestNode};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

/// A product that reports over UDP from one socket and listens for wakes on
/// another (the port it names), so the tests see that the node uses the
/// named port at the address the datagrams come from.
struct UdpProduct {
    p: Product,
    nonce: String,
    socket: Arc<UdpSocket>,
    wakes: Arc<UdpSocket>,
    seq: Arc<AtomicU64>,
}

/// What reached the product's wake port, each checked on arrival.
#[derive(Debug, PartialEq)]
enum Received {
    /// A wake probe, with its challenge.
    Probe(String),
    /// A plain wake: fetch now.
    Wake,
    /// Anything else: malformed, badly signed, wrong product or sender.
    Bad(String),
}

impl UdpProduct {
    async fn bind(p: Product, nonce: String) -> Self {
        Self {
            p,
            nonce,
            socket: Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap()),
            wakes: Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap()),
            seq: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Registers; with `port_at_registration` the wake port is named there.
    async fn register(node: &str, port_at_registration: bool) -> Self {
        Self::register_with_callback(node, port_at_registration, None).await
    }

    async fn register_with_callback(
        node: &str,
        port_at_registration: bool,
        callback_url: Option<&str>,
    ) -> Self {
        let wakes = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let port = wakes.local_addr().unwrap().port();
        let mut body = json!({
            "enrollment_secret": testkit::ENROLLMENT_SECRET,
            "uuid": new_uuid(),
            "name": "udp-wake",
            "product_type": "firewall",
            "version": "1.0",
            "callback_url": callback_url,
        });
        if port_at_registration {
            body["udp_port"] = json!(port);
        }
        let (status, reply) = post_json(&format!("{node}/api/v1/products/register"), &body).await;
        assert_eq!(status, 200, "{reply}");
        let p = Product {
            id: reply["product_id"].as_str().unwrap().to_owned(),
            key: reply["key"].as_str().unwrap().to_owned(),
            udp: reply["udp_endpoint"].as_str().unwrap().to_owned(),
        };
        let mut product = Self::bind(p, reply["nonce"].as_str().unwrap().to_owned()).await;
        product.wakes = Arc::new(wakes);
        product
    }

    fn port(&self) -> u16 {
        self.wakes.local_addr().unwrap().port()
    }

    async fn hello(&self) {
        send_hello(&self.p, &self.nonce, &self.socket, &self.seq).await;
    }

    /// Reports what arrives on the wake port; answers probes with a hello
    /// from the reporting socket when `answer_probes`.
    fn listen(&self, answer_probes: bool) -> mpsc::UnboundedReceiver<Received> {
        let (tx, rx) = mpsc::unbounded_channel();
        let p = Product {
            id: self.p.id.clone(),
            key: self.p.key.clone(),
            udp: self.p.udp.clone(),
        };
        let (socket, wakes, seq) = (self.socket.clone(), self.wakes.clone(), self.seq.clone());
        tokio::spawn(async move {
            let mut buf = vec![0u8; protocol::MAX_DATAGRAM + 1];
            loop {
                let (n, from) = wakes.recv_from(&mut buf).await.unwrap();
                let received = judge(&buf[..n], from.to_string(), &p);
                if let (Received::Probe(challenge), true) = (&received, answer_probes) {
                    send_hello(&p, challenge, &socket, &seq).await;
                }
                let _ = tx.send(received);
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

/// Checks a datagram from the node as a product would.
fn judge(bytes: &[u8], from: String, p: &Product) -> Received {
    let Ok(d) = Datagram::parse(bytes) else {
        return Received::Bad("malformed".into());
    };
    let id = *uuid::Uuid::parse_str(&p.id).unwrap().as_bytes();
    if d.kind != Kind::Wake || d.product != id || from != p.udp {
        return Received::Bad(format!("{:?} for another product or from {from}", d.kind));
    }
    if !d.verify(&hex::decode(&p.key).unwrap()) {
        return Received::Bad("bad tag".into());
    }
    if now_ms().abs_diff(d.sent_at_ms) > 60_000 {
        return Received::Bad("stale".into());
    }
    let payload: Value = serde_json::from_slice(d.payload).unwrap_or(Value::Null);
    match payload["nonce"].as_str() {
        Some(challenge) if challenge.len() >= 16 => Received::Probe(challenge.to_owned()),
        Some(other) => Received::Bad(format!("probe with a weak challenge {other:?}")),
        None if d.payload.is_empty() => Received::Wake,
        None => Received::Bad(format!("payload {payload}")),
    }
}

async fn post_json(url: &str, body: &Value) -> (u16, Value) {
    let response = client().post(url).json(body).send().await.unwrap();
    (
        response.status().as_u16(),
        response.json().await.unwrap_or(Value::Null),
    )
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

async fn next(rx: &mut mpsc::UnboundedReceiver<Received>, what: &str) -> Received {
    tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .unwrap_or_else(|_| panic!("no {what} within 5 s"))
        .unwrap()
}

/// Registers a product (wake port named at registration, or else in the
/// handshake), says hello and shakes hands; checks that one wake probe
/// came. Returns the product, what its wake port receives, and the
/// handshake's reply.
async fn shaken(
    node: &str,
    port_at_registration: bool,
    callback_url: Option<&str>,
    answer_probes: bool,
) -> (UdpProduct, mpsc::UnboundedReceiver<Received>, Value) {
    let product =
        UdpProduct::register_with_callback(node, port_at_registration, callback_url).await;
    let mut received = product.listen(answer_probes);
    product.hello().await;
    let body = if port_at_registration {
        json!({})
    } else {
        json!({"udp_port": product.port()})
    };
    let (status, reply) = product.handshake(node, body).await;
    assert_eq!(status, 200, "{reply}");
    assert!(matches!(
        next(&mut received, "probe").await,
        Received::Probe(_)
    ));
    (product, received, reply)
}

#[tokio::test]
async fn a_product_without_a_callback_is_woken_by_a_signed_datagram_and_gets_its_command() {
    for db in testkit::databases().await {
        let a = TestNode::start(queue_config(&db, "node-a")).await;
        let cookie = login(&a.url).await;
        // The wake port named at registration; the handshake body is empty.
        let (product, mut received, reply) = shaken(&a.url, true, None, true).await;
        assert_eq!(
            (reply["transport"].as_str(), reply["mode"].as_str()),
            (Some("udp"), Some("two_way")),
            "{}",
            db.engine
        );

        let (_, queued) = queue(&a.url, &cookie, &product.p.id, "ping").await;
        let cid = queued["id"].as_str().unwrap().to_owned();
        assert_eq!(next(&mut received, "wake").await, Received::Wake);
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
        let (product, mut received, reply) = shaken(&a.url, false, None, false).await;
        assert_eq!(
            (reply["transport"].as_str(), reply["mode"].as_str()),
            (Some("udp"), Some("one_way")),
            "{}",
            db.engine
        );

        // One probe per hello: without a new hello, a new handshake sends
        // nothing (a product key cannot make the node send datagrams at will).
        let (_, reply) = product
            .handshake(&a.url, json!({"udp_port": product.port()}))
            .await;
        assert_eq!(reply["mode"], "one_way");
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(received.try_recv().is_err(), "a second probe was sent");
        a.stop().await;
    }
}

#[tokio::test]
async fn a_failing_callback_falls_back_to_the_wake_datagram() {
    for db in testkit::databases().await {
        let a = TestNode::start(queue_config(&db, "node-a")).await;
        let cookie = login(&a.url).await;
        // Nothing listens on port 9: every callback fails at once.
        let callback = Some("http://127.0.0.1:9/wake");
        let (product, mut received, reply) = shaken(&a.url, true, callback, true).await;
        assert_eq!(reply["mode"], "two_way", "{}: {reply}", db.engine);

        let (_, queued) = queue(&a.url, &cookie, &product.p.id, "ping").await;
        let cid = queued["id"].as_str().unwrap().to_owned();
        assert_eq!(next(&mut received, "wake").await, Received::Wake);
        let commands = poll(&a.url, &product.p, 0).await;
        assert_eq!(commands.len(), 1, "{commands:?}");
        let ok = json!({"status": "succeeded", "output": "pong"});
        assert_eq!(result(&a.url, &product.p, &cid, ok).await.0, 204);
        let detail = wait_state(&a.url, &cookie, &cid, "succeeded", Duration::from_secs(5)).await;
        let timeline = notes(&detail);
        assert!(
            timeline.iter().any(|n| n.contains("UDP wake sent to")),
            "{}: {timeline:?}",
            db.engine
        );
        assert_eq!(detail["command"]["attempts"], 1, "{detail}");
        a.stop().await;
    }
}

#[tokio::test]
async fn a_product_not_heard_from_lately_is_not_woken_and_its_command_ends_dead() {
    for db in testkit::databases().await {
        let mut config = queue_config(&db, "node-a");
        config.queue_max_attempts = 2;
        let a = TestNode::start(config).await;
        let cookie = login(&a.url).await;
        let (product, mut received, reply) = shaken(&a.url, true, None, true).await;
        assert_eq!(reply["mode"], "two_way", "{}: {reply}", db.engine);
        // Silence past the product's offline_after (2 s here): the node no
        // longer knows where the product is.
        tokio::time::sleep(Duration::from_millis(2500)).await;

        let (_, queued) = queue(&a.url, &cookie, &product.p.id, "ping").await;
        let cid = queued["id"].as_str().unwrap().to_owned();
        let detail = wait_state(&a.url, &cookie, &cid, "dead", Duration::from_secs(10)).await;
        let timeline = notes(&detail);
        assert!(
            timeline.last().unwrap().contains(
                "no recent datagram from the product on this node; dead after 2 attempt(s)"
            ),
            "{}: {timeline:?}",
            db.engine
        );
        assert!(received.try_recv().is_err(), "a wake was sent anyway");
        a.stop().await;
    }
}

#[tokio::test]
async fn bad_wake_ports_get_json_errors() {
    for db in testkit::databases().await {
        let a = TestNode::start(queue_config(&db, "node-a")).await;
        let product = UdpProduct::register(&a.url, false).await;
        for body in [
            json!({"udp_port": 0}),
            json!({"udp_port": 70000}),
            json!({"udp_port": "x"}),
        ] {
            let (status, reply) = product.handshake(&a.url, body.clone()).await;
            assert_eq!(status, 400, "{}: {body} → {reply}", db.engine);
            assert_ne!(error_code(&reply), "<no error code>", "{reply}");
        }
        let body = json!({
            "enrollment_secret": testkit::ENROLLMENT_SECRET,
            "uuid": new_uuid(), "name": "wake-port", "product_type": "firewall",
            "version": "1.0", "udp_port": 0,
        });
        let (status, reply) =
            post_json(&format!("{}/api/v1/products/register", a.url), &body).await;
        assert_eq!(
            (status, error_code(&reply)),
            (400, "invalid_registration"),
            "{reply}"
        );
        a.stop().await;
    }
}
