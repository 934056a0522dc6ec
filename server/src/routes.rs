//! Every route of a node, by who may call it: the console and admin API
//! (session or API token, cross-site guard, audit layer), and the product
//! wire protocol (product keys). Part of the wiring, beside `lib.rs`.

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, StatusCode};
use axum::middleware;
use axum::response::IntoResponse;
use axum::routing::{delete, get, patch, post, put};
use axum::Router;

use crate::error::ApiError;
use crate::{
    alerts, audit, auth, centralize, console, content, enrollment, error, keepalive, nodes,
    products, provision, queue, AppState, BODY_LIMIT,
};

/// Every route of a node.
pub fn router(app: AppState) -> Router {
    let https = app.auth.https;
    // Console and admin calls: authenticated by the session cookie, so
    // cross-site requests are refused.
    let console_api = Router::new()
        .route("/api/v1/keepalive", get(keepalive::handlers::keepalive))
        .route("/api/v1/nodes", get(nodes::handlers::list))
        .route("/api/v1/nodes/{name}/role", put(nodes::handlers::set_role))
        .route("/api/v1/centralization", get(centralize::handlers::list))
        .route(
            "/api/v1/centralization/{node}/retry",
            post(centralize::handlers::retry),
        )
        .route("/api/v1/auth/handoff", post(auth::handlers::handoff_issue))
        .route("/api/v1/me", get(auth::handlers::me))
        .route(
            "/api/v1/tokens",
            get(auth::tokens::list).post(auth::tokens::create),
        )
        .route("/api/v1/tokens/{id}", delete(auth::tokens::revoke))
        .route(
            "/api/v1/users",
            get(auth::users::list).post(auth::users::create),
        )
        .route("/api/v1/users/{name}", delete(auth::users::remove))
        .route("/api/v1/users/{name}/role", put(auth::users::set_role))
        .route(
            "/api/v1/users/{name}/permissions",
            put(auth::users::set_permissions),
        )
        .route("/api/v1/auth/login", post(auth::handlers::login_json))
        .route("/api/v1/auth/logout", post(auth::handlers::logout_json))
        .route("/api/v1/products", get(products::handlers::list))
        .route("/api/v1/products/counts", get(products::handlers::counts))
        .route("/api/v1/products/history", get(products::handlers::history))
        .route("/api/v1/enrollment", get(enrollment::handlers::show))
        .route(
            "/api/v1/enrollment/rotate",
            post(enrollment::handlers::rotate),
        )
        .route("/api/v1/products/{id}", get(products::handlers::detail))
        .route(
            "/api/v1/products/{id}/reenroll",
            post(products::enroll::reenroll),
        )
        .route(
            "/api/v1/commands",
            get(queue::handlers::list).post(queue::handlers::create),
        )
        .route("/api/v1/commands/{id}", get(queue::handlers::detail))
        .merge(content_routes())
        .merge(console::routes(&app))
        .route("/auth/login", post(auth::handlers::login_form))
        .route("/auth/logout", post(auth::handlers::logout_form))
        .route("/auth/handoff", get(auth::handlers::handoff_redeem))
        .route("/api/v1/audit", get(audit::handlers::search))
        .layer(middleware::from_fn_with_state(
            app.audit.clone(),
            audit::layer,
        ))
        .layer(middleware::from_fn_with_state(
            app.nodes.clone(),
            nodes::csrf::guard,
        ));
    // The product wire protocol: bearer keys and the enrollment secret, never
    // cookies, so no cross-site guard on this hot path.
    let product_api = Router::new()
        .route(
            "/api/v1/products/register",
            post(products::enroll::register),
        )
        .route(
            "/api/v1/products/{id}/handshake",
            post(products::enroll::handshake),
        )
        .route(
            "/api/v1/products/{id}/heartbeat",
            post(products::handlers::heartbeat),
        )
        .route("/api/v1/products/{id}/logs", post(products::handlers::logs))
        .route(
            "/api/v1/products/{id}/commands",
            get(queue::product_api::commands),
        )
        .route(
            "/api/v1/products/{id}/commands/{cid}/result",
            post(queue::product_api::result),
        )
        .route("/api/v1/provision/hello", post(provision::handlers::hello));
    let router = Router::new()
        .merge(console_api)
        .merge(product_api)
        .route("/healthz", get(nodes::handlers::healthz))
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

/// Content trees and investigations (session routes).
fn content_routes() -> Router<AppState> {
    use content::{handlers as h, investigate as run};
    Router::new()
        .route("/api/v1/content", get(h::trees).post(h::create_item))
        .route("/api/v1/content/folders", post(content::folders::create))
        .route(
            "/api/v1/content/folders/{id}",
            patch(content::folders::change).delete(content::folders::delete),
        )
        .route(
            "/api/v1/content/{id}",
            get(h::item).patch(h::change_item).delete(h::delete_item),
        )
        .route("/api/v1/content/{id}/duplicate", post(h::duplicate))
        .route(
            "/api/v1/content/{id}/nodes/{node}",
            put(content::alert_handlers::enable).delete(content::alert_handlers::disable),
        )
        .route(
            "/api/v1/content/{id}/run",
            get(run::export_item).post(run::run_item),
        )
        .route(
            "/api/v1/investigations/run",
            get(run::export_query).post(run::run_query),
        )
        .route("/api/v1/investigations/explain", post(run::explain))
        .route("/api/v1/alerts/firings", get(alerts::handlers::firings))
        .route("/api/v1/alerts/test", post(alerts::handlers::test))
        .route(
            "/api/v1/alerts/{id}/coverage",
            get(alerts::handlers::coverage),
        )
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
