//! Content: every user's own tree, the Global tree and who may touch what,
//! on both databases.

use crate::common;

use app::api::NodeRole;
use common::{client, error_code, get, login, post, user_session};
use reqwest::header::COOKIE;
use reqwest::StatusCode;
use serde_json::{json, Value};
use testkit::{self, TestNode};

async fn send(
    method: reqwest::Method,
    url: &str,
    cookie: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = client().request(method, url).header(COOKIE, cookie);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn patch(url: &str, cookie: &str, body: Value) -> (StatusCode, Value) {
    send(reqwest::Method::PATCH, url, cookie, Some(body)).await
}

async fn delete(url: &str, cookie: &str) -> (StatusCode, Value) {
    send(reqwest::Method::DELETE, url, cookie, None).await
}

async fn put(url: &str, cookie: &str, body: Value) -> (StatusCode, Value) {
    send(reqwest::Method::PUT, url, cookie, Some(body)).await
}

/// Creates an item; returns its id.
async fn item(node: &str, cookie: &str, body: Value) -> String {
    let (status, reply) = post(&format!("{node}/api/v1/content"), Some(cookie), body).await;
    assert_eq!(status, StatusCode::CREATED, "{reply}");
    reply["id"].as_str().unwrap().to_owned()
}

async fn folder(node: &str, cookie: &str, body: Value) -> String {
    let (status, reply) = post(
        &format!("{node}/api/v1/content/folders"),
        Some(cookie),
        body,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{reply}");
    reply["id"].as_str().unwrap().to_owned()
}

/// The ids of every folder and item the user's trees show.
async fn listed(node: &str, cookie: &str) -> Vec<String> {
    let (status, trees) = get(&format!("{node}/api/v1/content"), Some(cookie)).await;
    assert_eq!(status, StatusCode::OK);
    ["folders", "items"]
        .iter()
        .flat_map(|k| {
            trees[k]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x["id"].as_str().unwrap().to_owned())
        })
        .collect()
}

const QUERY: &str = "products where status = offline fields name";

#[tokio::test]
async fn nobody_but_the_owner_reaches_an_item_or_a_folder_by_any_route() {
    for db in testkit::databases().await {
        let n = TestNode::start(testkit::config(&db, "node-a", NodeRole::Active)).await;
        let url = n.url.clone();
        let admin = login(&url).await;
        let alice = user_session(&url, &admin, "alice", "operator").await;
        let bob = user_session(&url, &admin, "bob", "operator").await;
        let vic = user_session(&url, &admin, "vic", "viewer").await;
        let root = user_session(&url, &admin, "root2", "admin").await;
        let gil = user_session(&url, &admin, "gil", "operator").await;
        let (s, _) = put(
            &format!("{url}/api/v1/users/root2/permissions"),
            &admin,
            json!({"manage_global_content": false}),
        )
        .await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        let (s, _) = put(
            &format!("{url}/api/v1/users/gil/permissions"),
            &admin,
            json!({"manage_global_content": true}),
        )
        .await;
        assert_eq!(s, StatusCode::NO_CONTENT);

        let f = folder(&url, &alice, json!({"name": "Ops"})).await;
        let i = item(
            &url,
            &alice,
            json!({"name": "Down", "folder": f, "definition": QUERY}),
        )
        .await;
        let listed_by_alice = listed(&url, &alice).await;
        assert!(
            listed_by_alice.contains(&f) && listed_by_alice.contains(&i),
            "{}",
            db.engine
        );

        for (who, other) in [
            ("bob", &bob),
            ("viewer", &vic),
            ("admin without the permission", &root),
            ("user with the permission", &gil),
            ("first admin", &admin),
        ] {
            let ctx = format!("{} as {who}", db.engine);
            let seen = listed(&url, other).await;
            assert!(
                !seen.contains(&i) && !seen.contains(&f),
                "{ctx}: lists another's content"
            );
            let item_url = format!("{url}/api/v1/content/{i}");
            let folder_url = format!("{url}/api/v1/content/folders/{f}");
            let answers = [
                get(&item_url, Some(other)).await,
                patch(&item_url, other, json!({"name": "mine now"})).await,
                patch(&item_url, other, json!({"definition": "logs"})).await,
                post(&format!("{item_url}/run"), Some(other), json!({})).await,
                get(&format!("{item_url}/run?format=csv"), Some(other)).await,
                post(&format!("{item_url}/duplicate"), Some(other), json!({})).await,
                delete(&item_url, other).await,
                patch(&folder_url, other, json!({"name": "x"})).await,
                delete(&format!("{folder_url}?recursive=true"), other).await,
                post(
                    &format!("{url}/api/v1/content"),
                    Some(other),
                    json!({"name": "in", "folder": f, "definition": QUERY}),
                )
                .await,
                post(
                    &format!("{url}/api/v1/content/folders"),
                    Some(other),
                    json!({"name": "in", "parent": f}),
                )
                .await,
            ];
            for (n, (status, body)) in answers.iter().enumerate() {
                assert_eq!(*status, StatusCode::NOT_FOUND, "{ctx}: route {n}: {body}");
            }
            // Their own item cannot be moved into the other's folder either.
            let own = item(
                &url,
                other,
                json!({"name": format!("own {who}"), "definition": QUERY}),
            )
            .await;
            let (status, _) = patch(
                &format!("{url}/api/v1/content/{own}"),
                other,
                json!({"folder": f}),
            )
            .await;
            assert_eq!(
                status,
                StatusCode::NOT_FOUND,
                "{ctx}: move into another's folder"
            );
            let (status, _) = patch(
                &format!("{url}/api/v1/content/folders/{f}"),
                other,
                json!({"parent": null}),
            )
            .await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{ctx}");
        }

        // The owner does everything.
        let item_url = format!("{url}/api/v1/content/{i}");
        assert_eq!(
            post(&format!("{item_url}/run"), Some(&alice), json!({}))
                .await
                .0,
            StatusCode::OK
        );
        assert_eq!(
            patch(
                &item_url,
                &alice,
                json!({"name": "Down hosts", "folder": null})
            )
            .await
            .0,
            StatusCode::OK
        );
        assert_eq!(
            post(&format!("{item_url}/duplicate"), Some(&alice), json!({}))
                .await
                .0,
            StatusCode::CREATED
        );
        assert_eq!(delete(&item_url, &alice).await.0, StatusCode::NO_CONTENT);
        assert_eq!(get(&item_url, Some(&alice)).await.0, StatusCode::NOT_FOUND);
        let (status, _) = get(&format!("{url}/api/v1/content"), None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        n.stop().await;
    }
}

#[tokio::test]
async fn the_global_tree_is_read_by_all_and_changed_only_with_the_permission() {
    for db in testkit::databases().await {
        let n = TestNode::start(testkit::config(&db, "node-a", NodeRole::Active)).await;
        let url = n.url.clone();
        let admin = login(&url).await;
        let alice = user_session(&url, &admin, "alice", "operator").await;
        let vic = user_session(&url, &admin, "vic", "viewer").await;
        let root = user_session(&url, &admin, "root2", "admin").await;
        let gil = user_session(&url, &admin, "gil", "operator").await;
        let perms = |name: &str| format!("{url}/api/v1/users/{name}/permissions");
        assert_eq!(
            put(
                &perms("root2"),
                &admin,
                json!({"manage_global_content": false})
            )
            .await
            .0,
            StatusCode::NO_CONTENT
        );
        // Only admins grant it, and not to viewers.
        let (status, body) = put(
            &perms("gil"),
            &alice,
            json!({"manage_global_content": true}),
        )
        .await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::FORBIDDEN, "forbidden")
        );
        let (status, body) = put(
            &perms("vic"),
            &admin,
            json!({"manage_global_content": true}),
        )
        .await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::BAD_REQUEST, "invalid_permission")
        );
        assert_eq!(
            put(
                &perms("gil"),
                &admin,
                json!({"manage_global_content": true})
            )
            .await
            .0,
            StatusCode::NO_CONTENT
        );
        let (_, me) = get(&format!("{url}/api/v1/me"), Some(&gil)).await;
        assert_eq!(me["manage_global_content"], true, "{}", db.engine);

        let shared = item(
            &url,
            &gil,
            json!({"scope": "global", "name": "Fleet down", "definition": QUERY}),
        )
        .await;
        let g = folder(&url, &admin, json!({"scope": "global", "name": "Shared"})).await;
        for (who, user) in [
            ("alice", &alice),
            ("viewer", &vic),
            ("admin without the permission", &root),
        ] {
            let ctx = format!("{} as {who}", db.engine);
            let seen = listed(&url, user).await;
            assert!(
                seen.contains(&shared) && seen.contains(&g),
                "{ctx}: Global tree not shown"
            );
            let item_url = format!("{url}/api/v1/content/{shared}");
            assert_eq!(get(&item_url, Some(user)).await.0, StatusCode::OK, "{ctx}");
            assert_eq!(
                post(&format!("{item_url}/run"), Some(user), json!({}))
                    .await
                    .0,
                StatusCode::OK,
                "{ctx}"
            );
            for (status, body) in [
                post(
                    &format!("{url}/api/v1/content"),
                    Some(user),
                    json!({"scope": "global", "name": "x", "definition": QUERY}),
                )
                .await,
                post(
                    &format!("{url}/api/v1/content/folders"),
                    Some(user),
                    json!({"scope": "global", "name": "x"}),
                )
                .await,
                patch(&item_url, user, json!({"name": "renamed"})).await,
                delete(&item_url, user).await,
                patch(
                    &format!("{url}/api/v1/content/folders/{g}"),
                    user,
                    json!({"name": "x"}),
                )
                .await,
                delete(&format!("{url}/api/v1/content/folders/{g}"), user).await,
                post(
                    &format!("{item_url}/duplicate"),
                    Some(user),
                    json!({"scope": "global"}),
                )
                .await,
            ] {
                assert_eq!(
                    (status, error_code(&body)),
                    (StatusCode::FORBIDDEN, "forbidden"),
                    "{ctx}: {body}"
                );
            }
            // Anyone may keep a copy in their own tree.
            let (status, copy) = post(
                &format!("{item_url}/duplicate"),
                Some(user),
                json!({"scope": "mine"}),
            )
            .await;
            assert_eq!(status, StatusCode::CREATED, "{ctx}: {copy}");
            assert_eq!(copy["scope"], "mine");
        }
        // A user with the permission publishes their own item to the Global tree.
        let own = item(
            &url,
            &gil,
            json!({"name": "Mine first", "definition": QUERY}),
        )
        .await;
        let (status, moved) = patch(
            &format!("{url}/api/v1/content/{own}"),
            &gil,
            json!({"scope": "global", "folder": g}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{moved}");
        assert_eq!(
            (moved["scope"].as_str(), moved["folder"].as_str()),
            (Some("global"), Some(g.as_str()))
        );
        assert!(listed(&url, &alice).await.contains(&own));
        n.stop().await;
    }
}

#[tokio::test]
async fn folders_rename_move_and_delete_what_they_hold_only_when_asked() {
    for db in testkit::databases().await {
        let n = TestNode::start(testkit::config(&db, "node-a", NodeRole::Active)).await;
        let url = n.url.clone();
        let me = login(&url).await;
        let (_, before) = get(&format!("{url}/api/v1/keepalive"), Some(&me)).await;
        let a = folder(&url, &me, json!({"name": "A"})).await;
        let b = folder(&url, &me, json!({"name": "B", "parent": a})).await;
        let i = item(&url, &me, json!({"name": "Q", "folder": b, "kind": "one_click", "definition": "logs where product = @product"})).await;
        let (_, after) = get(&format!("{url}/api/v1/keepalive"), Some(&me)).await;
        let position = |s: &Value| {
            s["state"]
                .as_str()
                .unwrap()
                .split(',')
                .nth(3)
                .unwrap()
                .parse::<i64>()
                .unwrap()
        };
        assert!(
            position(&after) >= position(&before) + 3,
            "{}: {before} {after}",
            db.engine
        );

        let (status, body) = post(
            &format!("{url}/api/v1/content"),
            Some(&me),
            json!({"name": "Q", "folder": b, "definition": QUERY}),
        )
        .await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::CONFLICT, "conflict"),
            "{}",
            db.engine
        );
        let (status, body) = patch(
            &format!("{url}/api/v1/content/folders/{a}"),
            &me,
            json!({"parent": b}),
        )
        .await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::CONFLICT, "conflict"),
            "{body}"
        );
        let (status, body) = post(
            &format!("{url}/api/v1/content"),
            Some(&me),
            json!({"name": "Bad", "definition": "products where stauts = online"}),
        )
        .await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::BAD_REQUEST, "invalid_definition")
        );
        assert_eq!(
            body["error"]["message"],
            "line 1, col 16: unknown field \"stauts\" (did you mean \"status\"?)"
        );
        for bad in ["", "a/b", &"x".repeat(101)] {
            let (status, body) = post(
                &format!("{url}/api/v1/content/folders"),
                Some(&me),
                json!({"name": bad}),
            )
            .await;
            assert_eq!(
                (status, error_code(&body)),
                (StatusCode::BAD_REQUEST, "invalid_name"),
                "{bad:?}"
            );
        }

        let (status, renamed) = patch(
            &format!("{url}/api/v1/content/folders/{b}"),
            &me,
            json!({"name": "B2", "parent": null}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{renamed}");
        assert_eq!(renamed["parent"], Value::Null);
        let (status, body) = delete(&format!("{url}/api/v1/content/folders/{b}"), &me).await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::CONFLICT, "folder_not_empty"),
            "{body}"
        );
        assert_eq!(
            get(&format!("{url}/api/v1/content/{i}"), Some(&me)).await.0,
            StatusCode::OK
        );
        let (status, gone) = delete(
            &format!("{url}/api/v1/content/folders/{b}?recursive=true"),
            &me,
        )
        .await;
        assert_eq!(
            (status, gone),
            (StatusCode::OK, json!({"folders": 1, "items": 1}))
        );
        assert_eq!(
            get(&format!("{url}/api/v1/content/{i}"), Some(&me)).await.0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            delete(&format!("{url}/api/v1/content/folders/{a}"), &me)
                .await
                .0,
            StatusCode::OK
        );
        n.stop().await;
    }
}
