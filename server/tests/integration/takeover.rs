//! Who may take a registered product's identity, on both databases: the
//! enrollment secret alone never does; the product's current key or an
//! admin's re-enrolment does, and a replaced key stops working on every
//! node within a second.

use crate::common;

use std::time::{Duration, Instant};

use common::products::*;
use common::{client, error_code, get, login, post, user_session};
use protocol::Kind;
use reqwest::header::AUTHORIZATION;
use reqwest::StatusCode;
use serde_json::{json, Value};
use testkit::{self, TestNode, ENROLLMENT_SECRET};
use tokio::net::UdpSocket;

/// Registers `uuid` with the enrollment secret and, if given, a bearer key.
async fn register_as(node: &str, uuid: &str, bearer: Option<&str>) -> (StatusCode, Value) {
    let mut request = client()
        .post(format!("{node}/api/v1/products/register"))
        .json(&json!({
            "enrollment_secret": ENROLLMENT_SECRET,
            "uuid": uuid,
            "name": "taken-over",
            "product_type": "firewall",
            "version": "6.6",
        }));
    if let Some(key) = bearer {
        request = request.header(AUTHORIZATION, format!("Bearer {key}"));
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn product_of(body: &Value, udp: &str) -> Product {
    Product {
        id: body["product_id"].as_str().unwrap().to_owned(),
        key: body["key"].as_str().unwrap().to_owned(),
        udp: udp.to_owned(),
    }
}

/// The causes of key changes in a product's history, newest first.
async fn causes(node: &str, cookie: &str, id: &str) -> Vec<String> {
    let detail = status_of(node, cookie, id).await;
    detail["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["cause"].as_str().unwrap_or_default().to_owned())
        .filter(|cause| cause.contains("key") || cause.contains("enrol"))
        .collect()
}

#[tokio::test]
async fn the_enrollment_secret_alone_does_not_take_over_a_registered_product() {
    for db in testkit::databases().await {
        let a = TestNode::start(fast_config(&db, "node-a")).await;
        let uuid = new_uuid();
        let real = registered(&a.url, &uuid).await;
        let (status, body) = register_as(&a.url, &uuid, None).await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::CONFLICT, "already_registered"),
            "{}: {body}",
            db.engine
        );
        let (status, body) = register_as(&a.url, &uuid, Some(&"ab".repeat(32))).await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::CONFLICT, "already_registered"),
            "{}: a wrong key proves nothing",
            db.engine
        );
        assert_eq!(call(&a.url, &real, "heartbeat", json!({})).await, 204);
        assert_eq!(call(&a.url, &real, "commands", json!({})).await, 200);
        a.stop().await;
    }
}

#[tokio::test]
async fn re_registering_with_the_current_key_rekeys_the_product() {
    for db in testkit::databases().await {
        let a = TestNode::start(fast_config(&db, "node-a")).await;
        let b = TestNode::start(fast_config(&db, "node-b")).await;
        let uuid = new_uuid();
        let old = registered(&a.url, &uuid).await;
        // Node B holds the old key in memory.
        assert_eq!(call(&b.url, &old, "heartbeat", json!({})).await, 204);
        let (status, body) = register_as(&a.url, &uuid, Some(&old.key)).await;
        assert_eq!(status, StatusCode::OK, "{}: {body}", db.engine);
        let new = product_of(&body, &old.udp);
        assert_eq!(new.id, old.id);
        assert_ne!(new.key, old.key);
        assert_eq!(call(&a.url, &new, "heartbeat", json!({})).await, 204);
        assert_eq!(call(&a.url, &old, "heartbeat", json!({})).await, 401);
        let started = Instant::now();
        while call(&b.url, &old, "heartbeat", json!({})).await != 401 {
            assert!(
                started.elapsed() < Duration::from_secs(1),
                "{}: node B still takes the old key",
                db.engine
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(call(&b.url, &new, "heartbeat", json!({})).await, 204);
        let cookie = login(&a.url).await;
        let history = causes(&a.url, &cookie, &new.id).await;
        assert_eq!(
            history,
            ["re-registered with its current key"],
            "{}",
            db.engine
        );
        a.stop().await;
        b.stop().await;
    }
}

/// Sends heartbeats signed by `p` to `to` until node `node` counts one more
/// `bad_tag` than `before`; returns how long that took.
async fn until_bad_tag(
    socket: &UdpSocket,
    node: &str,
    to: &str,
    p: &Product,
    before: u64,
) -> Duration {
    let started = Instant::now();
    let mut seq = 1_000;
    while metric(node, "bad_tag").await == before {
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "datagrams still accepted"
        );
        seq += 1;
        socket
            .send_to(&datagram(p, Kind::Heartbeat, seq, b""), to)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    started.elapsed()
}

#[tokio::test]
async fn only_admins_reenroll_and_the_revoked_key_stops_working_on_every_node_within_a_second() {
    for db in testkit::databases().await {
        let engine = db.engine;
        let a = TestNode::start(fast_config(&db, "node-a")).await;
        let b = TestNode::start(fast_config(&db, "node-b")).await;
        let admin = login(&a.url).await;
        let viewer = user_session(&a.url, &admin, "vic", "viewer").await;
        let operator = user_session(&a.url, &admin, "olga", "operator").await;
        let uuid = new_uuid();
        let old = registered(&a.url, &uuid).await;
        let b_udp = registered(&b.url, &new_uuid()).await.udp;
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        // Node B knows the key: over HTTP and over UDP.
        assert_eq!(call(&b.url, &old, "heartbeat", json!({})).await, 204);
        let accepted = metric(&b.url, "accepted").await;
        socket
            .send_to(&datagram(&old, Kind::Heartbeat, 1, b""), &b_udp)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(metric(&b.url, "accepted").await, accepted + 1, "{engine}");

        let url = format!("{}/api/v1/products/{}/reenroll", a.url, old.id);
        for (who, cookie) in [("viewer", &viewer), ("operator", &operator)] {
            let (status, body) = post(&url, Some(cookie), json!({})).await;
            assert_eq!(
                (status, error_code(&body)),
                (StatusCode::FORBIDDEN, "forbidden"),
                "{engine}: {who}"
            );
        }
        assert_eq!(call(&a.url, &old, "heartbeat", json!({})).await, 204);
        let bad_tags = metric(&b.url, "bad_tag").await;
        let (status, body) = post(&url, Some(&admin), json!({})).await;
        assert_eq!(status, StatusCode::OK, "{engine}: {body}");
        let revoked = Instant::now();
        assert_eq!(call(&a.url, &old, "heartbeat", json!({})).await, 401);
        while call(&b.url, &old, "heartbeat", json!({})).await != 401 {
            assert!(
                revoked.elapsed() < Duration::from_secs(1),
                "{engine}: node B still takes the revoked key over HTTP"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        until_bad_tag(&socket, &b.url, &b_udp, &old, bad_tags).await;
        assert!(
            revoked.elapsed() < Duration::from_secs(1),
            "{engine}: node B took datagrams signed with the revoked key for {:?}",
            revoked.elapsed()
        );

        // The enrollment secret takes it over once.
        let (status, body) = register_as(&b.url, &uuid, None).await;
        assert_eq!(status, StatusCode::OK, "{engine}: {body}");
        let new = product_of(&body, &old.udp);
        assert_eq!(new.id, old.id);
        let registered_at = Instant::now();
        // Node A learns the new key within a second too.
        while call(&a.url, &new, "heartbeat", json!({})).await != 204 {
            assert!(
                registered_at.elapsed() < Duration::from_secs(1),
                "{engine}: node A refuses the new key"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let (status, body) = register_as(&b.url, &uuid, None).await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::CONFLICT, "already_registered"),
            "{engine}: the re-enrolment was used"
        );
        let history = causes(&a.url, &admin, &new.id).await;
        assert_eq!(
            history,
            [
                "re-enrolled with the enrollment secret after an admin revoked its key",
                "key revoked by admin admin; open for re-enrolment",
            ],
            "{engine}"
        );
        let (status, _) = post(
            &format!("{}/api/v1/products/{}/reenroll", a.url, new_uuid()),
            Some(&admin),
            json!({}),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{engine}");
        let (status, _) = get(&url, Some(&admin)).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{engine}");
        a.stop().await;
        b.stop().await;
    }
}

/// The store side of the key poll: registrations, re-keys and revocations
/// are all listed as changes after the time of the previous look, and
/// nothing is listed when nothing changed.
#[tokio::test]
async fn key_changes_list_registrations_rekeys_and_revocations_since_a_look() {
    use server::products::store::{self, Registered};
    use server::products::{Claim, Registration};
    for db in testkit::databases().await {
        let engine = db.engine;
        let pool = server::db::Db::connect(&db.url).await.unwrap();
        let (start, ids) = store::ids(&pool).await.unwrap();
        assert!(ids.is_empty(), "{engine}");
        let (now, changes) = store::key_changes(&pool, start).await.unwrap();
        assert!(changes.is_empty() && now >= start, "{engine}");
        let mut r = Registration {
            id: new_uuid(),
            name: "p".into(),
            product_type: "t".into(),
            version: "1".into(),
            callback_url: None,
            udp_port: None,
            key: "aa".repeat(32),
            nonce: "n".into(),
        };
        let first = store::register(&pool, &r, 60_000, None).await.unwrap();
        let Registered::Done {
            claim: Claim::New,
            key_changed_at: registered_at,
        } = first
        else {
            panic!("{engine}: {first:?}");
        };
        let (_, changes) = store::key_changes(&pool, start - 1).await.unwrap();
        assert_eq!(changes, [(r.id.clone(), registered_at)], "{engine}");
        let (_, changes) = store::key_changes(&pool, registered_at).await.unwrap();
        assert!(changes.is_empty(), "{engine}: {changes:?}");

        let old_key = r.key.clone();
        r.key = "bb".repeat(32);
        assert_eq!(
            store::register(&pool, &r, 60_000, None).await.unwrap(),
            Registered::Taken,
            "{engine}"
        );
        let again = store::register(&pool, &r, 60_000, Some(&old_key))
            .await
            .unwrap();
        assert!(
            matches!(again, Registered::Done { claim: Claim::Proof, key_changed_at } if key_changed_at >= registered_at),
            "{engine}: {again:?}"
        );
        assert!(store::revoke(&pool, &r.id, &"cc".repeat(32), "root")
            .await
            .unwrap());
        assert!(!store::revoke(&pool, &new_uuid(), &"cc".repeat(32), "root")
            .await
            .unwrap());
        let auth = store::auth(&pool, &r.id).await.unwrap().unwrap();
        assert_eq!(auth.key, "cc".repeat(32), "{engine}");
        let (_, changes) = store::key_changes(&pool, registered_at - 1).await.unwrap();
        assert_eq!(changes, [(r.id.clone(), auth.key_changed_at)], "{engine}");
        r.key = "dd".repeat(32);
        let taken = store::register(&pool, &r, 60_000, None).await.unwrap();
        assert!(
            matches!(
                taken,
                Registered::Done {
                    claim: Claim::Reenrolment,
                    ..
                }
            ),
            "{engine}: {taken:?}"
        );
        r.key = "ee".repeat(32);
        assert_eq!(
            store::register(&pool, &r, 60_000, None).await.unwrap(),
            Registered::Taken,
            "{engine}: a re-enrolment is used once"
        );
        pool.close().await;
    }
}
