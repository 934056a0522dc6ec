//! The audit trail on both engines and two nodes: each listed action
//! appears once with its actor, client, node, target and outcome; admins
//! alone read it (JSON, filters, CSV); no route changes or deletes it.

use crate::common;

use app::api::{AuditEntry, AuditPage, NodeRole};
use common::{client, get, login, post, user_session};
use reqwest::header::{AUTHORIZATION, COOKIE};
use reqwest::StatusCode;
use serde_json::json;
use server::db::Db;
use testkit::TestNode;

async fn trail(node: &str, cookie: &str, query: &str) -> AuditPage {
    let (status, body) = get(&format!("{node}/api/v1/audit?{query}"), Some(cookie)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    serde_json::from_value(body).unwrap()
}

fn once<'a>(entries: &'a [AuditEntry], action: &str) -> &'a AuditEntry {
    let found: Vec<_> = entries.iter().filter(|e| e.action == action).collect();
    assert_eq!(found.len(), 1, "{action}: {found:?}");
    found[0]
}

#[tokio::test]
async fn every_listed_action_is_recorded_once_with_its_actor_and_nobody_changes_the_trail() {
    for db in testkit::databases().await {
        let a = TestNode::start(testkit::config(&db, "node-a", NodeRole::Active)).await;
        let b = TestNode::start(testkit::config(&db, "node-b", NodeRole::Active)).await;
        let wrong = client()
            .post(format!("{}/api/v1/auth/login", a.url))
            .json(&json!({"username": "admin", "password": "not the password"}))
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
        let admin = login(&a.url).await;
        let viewer = user_session(&a.url, &admin, "vic", "viewer").await;
        let put = |url: String, body: serde_json::Value| {
            client()
                .put(url)
                .header(COOKIE, admin.clone())
                .json(&body)
                .send()
        };
        let role = put(
            format!("{}/api/v1/users/vic/role", a.url),
            json!({"role": "operator"}),
        );
        assert_eq!(role.await.unwrap().status(), StatusCode::NO_CONTENT);
        let node_role = put(
            format!("{}/api/v1/nodes/node-b/role", b.url),
            json!({"role": "passive"}),
        );
        assert_eq!(node_role.await.unwrap().status(), StatusCode::NO_CONTENT);
        let (status, _) = post(
            &format!("{}/api/v1/enrollment/rotate", a.url),
            Some(&admin),
            json!({}),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let target = Db::connect(&db.url).await.unwrap();
        let product = testkit::two_way_product(&target, "p1").await;
        let (status, _) = post(
            &format!("{}/api/v1/commands", b.url),
            Some(&admin),
            json!({"product_id": product, "kind": "ping"}),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED);
        let (status, _) = post(
            &format!("{}/api/v1/content", a.url),
            Some(&admin),
            json!({"name": "offline", "definition": "products where status = offline"}),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED);
        let (_, made) = post(
            &format!("{}/api/v1/tokens", a.url),
            Some(&admin),
            json!({"name": "ci"}),
        )
        .await;
        let token = made["token"].as_str().unwrap();
        let listed = client()
            .get(format!("{}/api/v1/products", b.url))
            .header(AUTHORIZATION, format!("Bearer {token}"))
            .send()
            .await
            .unwrap();
        assert_eq!(listed.status(), StatusCode::OK);
        let revoked = client()
            .delete(format!(
                "{}/api/v1/tokens/{}",
                b.url,
                made["id"].as_str().unwrap()
            ))
            .header(COOKIE, &admin)
            .send()
            .await
            .unwrap();
        assert_eq!(revoked.status(), StatusCode::NO_CONTENT);

        // Nobody signed in: refused, and not worth a record (anyone could
        // fill the trail).
        let (status, _) = post(&format!("{}/api/v1/commands", a.url), None, json!({})).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);

        let page = trail(&b.url, &admin, "limit=1000").await;
        assert!(
            page.entries.iter().all(|x| !x.actor.is_empty()),
            "{:?}",
            page.entries
        );
        let e = &page.entries;
        let signed_in: Vec<_> = e.iter().filter(|x| x.action == "sign_in").collect();
        // The admin's failure and success, and vic's sign-in.
        assert_eq!(signed_in.len(), 3, "{}: {signed_in:?}", db.engine);
        assert!(signed_in
            .iter()
            .any(|x| x.actor == "admin" && x.outcome == "refused" && x.node == "node-a"));
        let created = once(e, "user.create");
        assert_eq!(
            (
                created.actor.as_str(),
                created.via.as_str(),
                created.client.as_str()
            ),
            ("admin", "session", "127.0.0.1")
        );
        assert_eq!(once(e, "user.role").target, "/api/v1/users/vic/role");
        assert_eq!(once(e, "node.role").node, "node-b");
        once(e, "enrollment.rotate");
        assert_eq!(once(e, "command.queue").status, 201);
        once(e, "content.create");
        once(e, "token.create");
        once(e, "token.revoke");
        let used = once(e, "get /api/v1/products");
        let (status, _) = {
            let r = client()
                .get(format!("{}/api/v1/products", a.url))
                .header(AUTHORIZATION, format!("Bearer {token}"))
                .send()
                .await
                .unwrap();
            (r.status(), ())
        };
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let refused = trail(&a.url, &admin, "outcome=refused&action=get").await;
        assert_eq!(refused.total, 1, "{:?}", refused.entries);
        assert_eq!(refused.entries[0].actor, "admin");
        assert_eq!(used.actor, "admin");
        assert!(used.via.starts_with("token:"), "{used:?}");
        assert_eq!(page.total, e.len() as i64);

        // Filters and CSV.
        let tokens = trail(&a.url, &admin, "action=token.").await;
        assert_eq!(tokens.total, 2);
        let refused = trail(&a.url, &admin, "outcome=refused").await;
        assert!(refused.entries.iter().all(|x| x.outcome == "refused"));
        let csv = client()
            .get(format!("{}/api/v1/audit?format=csv&action=user.", a.url))
            .header(COOKIE, &admin)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(csv.lines().count(), 3, "{csv}");
        assert!(csv.starts_with("id,at,actor,via,client,node,action,target,outcome,status\n"));

        // Admins only (signed in); a bad filter is a JSON error.
        let (status, _) = get(&format!("{}/api/v1/audit", a.url), None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let (status, body) = get(
            &format!("{}/api/v1/audit?outcome=maybe", a.url),
            Some(&admin),
        )
        .await;
        assert_eq!(
            (status, common::error_code(&body)),
            (StatusCode::BAD_REQUEST, "invalid_outcome")
        );
        let (status, _) = get(&format!("{}/api/v1/centralization", a.url), None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);

        // No route changes the trail.
        let (status, _) = get(&format!("{}/api/v1/audit", a.url), Some(&viewer)).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let before = trail(&a.url, &admin, "limit=1000").await.entries;
        for method in [
            reqwest::Method::POST,
            reqwest::Method::PUT,
            reqwest::Method::DELETE,
        ] {
            for path in ["/api/v1/audit", &format!("/api/v1/audit/{}", before[0].id)] {
                let r = client()
                    .request(method.clone(), format!("{}{path}", a.url))
                    .header(COOKIE, &admin)
                    .json(&json!({"actor": "someone else"}))
                    .send()
                    .await
                    .unwrap();
                assert!(
                    matches!(
                        r.status(),
                        StatusCode::METHOD_NOT_ALLOWED | StatusCode::NOT_FOUND
                    ),
                    "{method} {path}: {}",
                    r.status()
                );
            }
        }
        let after = trail(&a.url, &admin, "limit=1000").await.entries;
        // Each refused attempt was recorded, and nothing before it changed.
        assert_eq!(&after[after.len() - before.len()..], &before[..]);
        a.stop().await;
        b.stop().await;
    }
}
