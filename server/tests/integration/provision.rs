//! Provisioning on both databases: a device's hello is processed by the node
//! that received it, or by another once that node's lease ran out.

use crate::common;

use std::time::Duration;

use common::products::*;
use common::queue::*;
use common::{error_code, login, post};
use reqwest::StatusCode;
use serde_json::json;
use testkit::ENROLLMENT_SECRET;
use testkit::{self, TestNode};

#[tokio::test]
async fn provisioning_hellos_are_processed_by_the_node_that_received_them() {
    for db in testkit::databases().await {
        let a = TestNode::start(queue_config(&db, "node-a")).await;
        let b = TestNode::start(queue_config(&db, "node-b")).await;
        let cookie = login(&a.url).await;
        let hello = |secret: &str, uuid: &str, ip: &str| json!({"enrollment_secret": secret, "uuid": uuid, "ip": ip});
        let url = format!("{}/api/v1/provision/hello", b.url);
        let device = new_uuid();
        let (status, body) = post(&url, None, hello("wrong", &device, "10.0.0.7")).await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::UNAUTHORIZED, "bad_enrollment_secret")
        );
        let (status, body) =
            post(&url, None, hello(ENROLLMENT_SECRET, &device, "10.0.0.300")).await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::BAD_REQUEST, "invalid_hello")
        );
        let (status, body) = post(&url, None, hello(ENROLLMENT_SECRET, &device, "10.0.0.7")).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{}: {body}", db.engine);
        let request = body["request_id"].as_str().unwrap().to_owned();

        // The device is an unmanaged product with a provision command, both
        // made by node-b.
        let detail = wait_product(&a.url, &cookie, &device, "unmanaged").await;
        assert_eq!(detail["product"]["name"], "device 10.0.0.7");
        let c = wait_state(&a.url, &cookie, &request, "queued", Duration::from_secs(3)).await;
        assert_eq!(c["command"]["kind"], "provision");
        assert_eq!(c["command"]["created_by"], "provisioning (node-b)");
        assert_eq!(c["args"], json!({"ip": "10.0.0.7", "request_id": request}));
        assert!(notes(&c)[0].starts_with("node-b queued"), "{:?}", notes(&c));

        // Its agent registers: the same product, now managed, gets the command.
        let agent = registered(&a.url, &device).await;
        let got = poll(&a.url, &agent, 0).await;
        assert_eq!(got.len(), 1, "{}", db.engine);
        assert_eq!(got[0]["kind"], "provision");
        a.stop().await;
        b.stop().await;
    }
}

#[tokio::test]
async fn a_provisioning_request_whose_node_died_is_taken_over_after_its_lease() {
    for db in testkit::databases().await {
        let store = server::db::Db::connect(&db.url).await.unwrap();
        let device = new_uuid();
        // Logged by a node that died before processing it; its lease is over.
        let request = server::provision::store::Request {
            id: new_uuid(),
            uuid: device.clone(),
            ip: "192.0.2.9".into(),
            received_by: "node-gone".into(),
        };
        server::provision::store::log(&store, &request, -1)
            .await
            .unwrap();
        let a = TestNode::start(queue_config(&db, "node-a")).await;
        let cookie = login(&a.url).await;
        wait_product(&a.url, &cookie, &device, "unmanaged").await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        let (_, state, processed_by) = server::provision::store::get(&store, &request.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (state.as_str(), processed_by.as_deref()),
            ("done", Some("node-a")),
            "{}",
            db.engine
        );
        let c = command_soon(&a.url, &cookie, &request.id).await;
        assert_eq!(c["command"]["created_by"], "provisioning (node-gone)");
        a.stop().await;
        store.close().await;
    }
}

/// A hello is for a device nobody registered yet: naming a registered
/// product must not queue a `provision` command for it.
#[tokio::test]
async fn a_hello_naming_a_registered_product_is_refused_and_queues_nothing() {
    for db in testkit::databases().await {
        let a = TestNode::start(queue_config(&db, "node-a")).await;
        let cookie = login(&a.url).await;
        let p = registered(&a.url, &new_uuid()).await;
        let url = format!("{}/api/v1/provision/hello", a.url);
        let body = json!({"enrollment_secret": ENROLLMENT_SECRET, "uuid": p.id.to_uppercase(), "ip": "10.0.0.7"});
        let (status, body) = post(&url, None, body).await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::CONFLICT, "already_registered"),
            "{}: {body}",
            db.engine
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(poll(&a.url, &p, 0).await.is_empty(), "{}", db.engine);
        let (_, list) = common::get(&format!("{}/api/v1/commands", a.url), Some(&cookie)).await;
        assert_eq!(list["total"], 0, "{}: {list}", db.engine);
        let detail = status_of(&a.url, &cookie, &p.id).await;
        assert_eq!(detail["product"]["status"], "pending", "{}", db.engine);
        a.stop().await;
    }
}
