//! Every route of a node, by who may call it: the console and admin API
//! (session or API token, cross-site guard, audit layer), and the product
//! wire protocol (product keys). Part of the wiring, beside `lib.rs`.

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, StatusCode};
use axum::middleware;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use std::sync::Arc;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::{
    alerts, audit, auth, centralize, console, content, enrollment, error, keepalive, nodes,
    openapi, products, provision, queue, AppState, BODY_LIMIT,
};

/// Every route of a node.
pub fn router(app: AppState) -> Router {
    let https = app.auth.https;
    // Console and admin calls: a session cookie (so cross-site requests
    // are refused) or an API token; recorded by the audit layer. Every
    // `/api/v1` route is documented: `routes!` mounts each handler at the
    // path its `#[utoipa::path]` gives.
    let console_api = console_api()
        .merge(OpenApiRouter::from(
            console::routes(&app)
                .route("/auth/login", post(auth::handlers::login_form))
                .route("/auth/logout", post(auth::handlers::logout_form))
                .route("/auth/handoff", get(auth::handlers::handoff_redeem)),
        ))
        .layer(middleware::from_fn_with_state(
            app.audit.clone(),
            audit::layer,
        ))
        .layer(middleware::from_fn_with_state(
            app.nodes.clone(),
            nodes::csrf::guard,
        ));
    let (api, doc) = documented(console_api).split_for_parts();
    let doc = Arc::new(openapi::document(doc));
    let router = api
        .route(
            "/api/v1/openapi.json",
            get(move || {
                let doc = doc.clone();
                async move { axum::Json(doc) }
            }),
        )
        .route("/metrics", get(metrics))
        .fallback(console::not_found)
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "method not allowed here",
            )
        })
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn(error::json_errors))
        .layer(middleware::from_fn(console::security_headers))
        .with_state(app);
    if https {
        router.layer(middleware::from_fn(console::strict_transport_security))
    } else {
        router
    }
}

/// The documented routes around `console_api` (the console and admin
/// calls, with whatever layers they were given): the product protocol and
/// the health check. `routes!` mounts each handler at the path its
/// `#[utoipa::path]` declares.
fn documented(console_api: OpenApiRouter<AppState>) -> OpenApiRouter<AppState> {
    // The product wire protocol: bearer keys and the enrollment secret, never
    // cookies, so no cross-site guard on this hot path.
    let product_api = OpenApiRouter::new()
        .routes(routes!(products::enroll::register))
        .routes(routes!(products::enroll::handshake))
        .routes(routes!(products::handlers::heartbeat))
        .routes(routes!(products::handlers::logs))
        .routes(routes!(queue::product_api::commands))
        .routes(routes!(queue::product_api::result))
        .routes(routes!(provision::handlers::hello));
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .merge(console_api)
        .merge(product_api)
        .routes(routes!(nodes::handlers::healthz))
}

/// The OpenAPI document, as `GET /api/v1/openapi.json` serves it (the
/// router builds it from the same routes).
#[cfg(test)]
pub fn api_document() -> serde_json::Value {
    openapi::document(documented(console_api()).split_for_parts().1)
}

/// Console and admin calls: a session cookie or an API token.
fn console_api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(keepalive::handlers::keepalive))
        .routes(routes!(nodes::handlers::list))
        .routes(routes!(nodes::handlers::set_role))
        .routes(routes!(centralize::handlers::list))
        .routes(routes!(centralize::handlers::retry))
        .routes(routes!(auth::handlers::handoff_issue))
        .routes(routes!(auth::handlers::me))
        .routes(routes!(auth::tokens::list, auth::tokens::create))
        .routes(routes!(auth::tokens::revoke))
        .routes(routes!(auth::users::list, auth::users::create))
        .routes(routes!(auth::users::remove))
        .routes(routes!(auth::users::set_role))
        .routes(routes!(auth::users::set_permissions))
        .routes(routes!(auth::handlers::login_json))
        .routes(routes!(auth::handlers::logout_json))
        .routes(routes!(products::handlers::list))
        .routes(routes!(products::handlers::counts))
        .routes(routes!(products::handlers::history))
        .routes(routes!(enrollment::handlers::show))
        .routes(routes!(enrollment::handlers::rotate))
        .routes(routes!(products::handlers::detail))
        .routes(routes!(products::enroll::reenroll))
        .routes(routes!(queue::handlers::list, queue::handlers::create))
        .routes(routes!(queue::handlers::detail))
        .routes(routes!(audit::handlers::search))
        .merge(content_routes())
}

/// Content trees and investigations (session routes).
fn content_routes() -> OpenApiRouter<AppState> {
    use content::{alert_handlers as alert, folders, handlers as h, investigate as run};
    OpenApiRouter::new()
        .routes(routes!(h::trees, h::create_item))
        .routes(routes!(folders::create))
        .routes(routes!(folders::change, folders::delete))
        .routes(routes!(h::item, h::change_item, h::delete_item))
        .routes(routes!(h::duplicate))
        .routes(routes!(alert::enable, alert::disable))
        .routes(routes!(run::export_item, run::run_item))
        .routes(routes!(run::export_query, run::run_query))
        .routes(routes!(run::explain))
        .routes(routes!(alerts::handlers::firings))
        .routes(routes!(alerts::handlers::test))
        .routes(routes!(alerts::handlers::coverage))
}

/// `GET /metrics`: what the node counts of its products' traffic and of its
/// HTTP connections, in the Prometheus text format.
async fn metrics(State(app): State<AppState>) -> impl IntoResponse {
    let mut out = products::metrics::text(&app.products);
    out.push_str(&app.keepalive.metrics_text());
    out.push_str(&app.connections.metrics_text());
    if let Some(tls) = &app.tls {
        out.push_str(&tls.metrics_text());
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_is_tagged_has_a_success_and_names_its_error_codes() {
        let doc = api_document();
        let mut operations = 0;
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                operations += 1;
                let at = format!("{method} {path}");
                let tag = op["tags"][0].as_str().unwrap_or_default();
                assert!(
                    [openapi::CONSOLE, openapi::PRODUCT, openapi::PUBLIC].contains(&tag),
                    "{at}: tag {tag:?}"
                );
                if tag == openapi::CONSOLE {
                    assert_eq!(op["security"].as_array().map(Vec::len), Some(2), "{at}");
                }
                let replies = op["responses"].as_object().unwrap();
                assert!(
                    replies.keys().any(|s| s.starts_with('2')),
                    "{at}: no success"
                );
                for (status, reply) in replies {
                    if let Some(content) = reply.get("content") {
                        assert!(
                            content["application/json"]["schema"].is_object()
                                || content["text/csv"].is_object(),
                            "{at} {status}: {content}"
                        );
                    }
                    let schema = &reply["content"]["application/json"]["schema"]["$ref"];
                    if status.starts_with('4') || status.starts_with('5') {
                        assert_eq!(
                            schema.as_str(),
                            Some(format!("#/components/schemas/Error{status}").as_str()),
                            "{at} {status}"
                        );
                    }
                }
            }
        }
        assert!(operations >= 55, "{operations} operations");
        assert_eq!(
            doc["components"]["schemas"]["Error409"]["properties"]["error"]["properties"]["code"]
                ["enum"][0],
            "alert_limit"
        );
    }
}
