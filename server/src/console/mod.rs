//! The operator console: server-rendered Leptos pages (hydrated in the
//! browser), the static files they load, and the login guard in front.

use app::params::ConsoleParams;
use app::ConsoleDefaults;
use axum::extract::{FromRef, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Router;
use leptos::config::LeptosOptions;
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, LeptosRoutes};
use tower_http::services::{ServeDir, ServeFile};

use crate::auth::Auth;
use crate::error::no_such_route;
use app::params::encode;

/// What the console's pages are rendered with.
#[derive(Clone)]
pub struct Console {
    /// Console parameters the node's configuration sets for every console.
    pub defaults_query: std::sync::Arc<str>,
}

/// Console pages, behind the login guard, plus the static files.
pub fn routes<S>(state: &S) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    LeptosOptions: FromRef<S>,
    Console: FromRef<S>,
    Auth: FromRef<S>,
{
    let options = LeptosOptions::from_ref(state);
    let defaults_query = Console::from_ref(state).defaults_query.to_string();
    let defaults = ConsoleParams::from_query(&ConsoleParams::default(), &defaults_query);
    let pages = Router::<S>::new()
        .leptos_routes_with_context(
            state,
            generate_route_list(app::App),
            move || provide_context(ConsoleDefaults(defaults.clone())),
            {
                let options = options.clone();
                move || app::shell(options.clone(), defaults_query.clone())
            },
        )
        .route_layer(middleware::from_fn_with_state(
            Auth::from_ref(state),
            require_login,
        ));
    let site = std::path::Path::new(options.site_root.as_ref());
    pages
        .nest_service(
            "/pkg",
            ServeDir::new(site.join(options.site_pkg_dir.as_ref())),
        )
        .route_service("/favicon.ico", ServeFile::new(site.join("favicon.ico")))
}

/// Sends a visitor without a live session to the login page, remembering
/// where they were going.
async fn require_login(State(auth): State<Auth>, request: Request, next: Next) -> Response {
    if request.uri().path() == "/login" {
        return next.run(request).await;
    }
    match crate::auth::session_user(request.headers(), &auth).await {
        Ok(Some(_)) => next.run(request).await,
        Ok(None) => {
            let wanted = request
                .uri()
                .path_and_query()
                .map(|p| p.as_str())
                .unwrap_or("/");
            Redirect::to(&format!("/login?next={}", encode(wanted))).into_response()
        }
        Err(e) => e.into_response(),
    }
}

/// Unknown paths: an HTML page for browsers, JSON for everything else.
pub async fn not_found(request: Request) -> Response {
    let wants_html = request
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"));
    if wants_html && !request.uri().path().starts_with("/api/") {
        let page = "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
            <title>Not found · Vigil</title><link rel=\"stylesheet\" href=\"/pkg/vigil.css\"></head>\
            <body><main class=\"page\"><h1>Page not found</h1>\
            <p><a href=\"/\">Back to the console</a></p></main></body></html>";
        return (StatusCode::NOT_FOUND, Html(page)).into_response();
    }
    no_such_route(request).await.into_response()
}

/// Under HTTPS: browsers that saw the node once reach it only over HTTPS
/// for a year (no `includeSubDomains`: the node does not own its domain).
pub async fn strict_transport_security(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    response.headers_mut().insert(
        header::STRICT_TRANSPORT_SECURITY,
        header::HeaderValue::from_static("max-age=31536000"),
    );
    response
}

/// Headers on every answer: no framing (clickjacking), no content sniffing,
/// no referrer to other sites (hand-off URLs carry a token; `no-referrer`
/// would also make browsers send `Origin: null` on the login form, which
/// the cross-site guard refuses), and nothing cached of what a
/// signed-in user was shown (API answers and pages; the static bundle under
/// `/pkg` is the same for everyone and stays cacheable).
pub async fn security_headers(request: Request, next: Next) -> Response {
    let cacheable =
        request.uri().path().starts_with("/pkg/") || request.uri().path() == "/favicon.ico";
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    for (name, value) in [
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::CONTENT_SECURITY_POLICY, "frame-ancestors 'none'"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "same-origin"),
    ] {
        headers.insert(name, header::HeaderValue::from_static(value));
    }
    if !cacheable {
        headers.insert(
            header::CACHE_CONTROL,
            header::HeaderValue::from_static("no-store"),
        );
    }
    response
}
