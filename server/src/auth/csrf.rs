//! Cross-site request forgery guard for state-changing requests.
//!
//! Session cookies are SameSite=Lax, so browsers do not send them on
//! cross-site POSTs; on top of that, any state-changing request that a browser
//! marks as coming from another site is refused here. Non-browser clients
//! (agents, scripts) send neither `Origin` nor `Sec-Fetch-Site` and pass.

use axum::extract::{Request, State};
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::AppState;

pub async fn guard(State(app): State<AppState>, request: Request, next: Next) -> Response {
    if matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) {
        return next.run(request).await;
    }
    let headers = request.headers();
    let cross_site = headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == "cross-site");
    let origin_ok = match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        None => true,
        Some(origin) => {
            let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
            same_origin(origin, host, &app.node.url)
        }
    };
    if cross_site || !origin_ok {
        return ApiError::forbidden("cross-site request refused").into_response();
    }
    next.run(request).await
}

/// Whether `origin` names this node: the `Host` it was reached at, or its
/// public URL.
fn same_origin(origin: &str, host: Option<&str>, public_url: &str) -> bool {
    let authority = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"));
    let Some(authority) = authority else {
        return false; // includes the opaque origin "null"
    };
    host == Some(authority) || public_url.trim_end_matches('/') == origin
}

#[cfg(test)]
mod tests {
    use super::same_origin;

    #[test]
    fn same_host_is_accepted() {
        assert!(same_origin(
            "http://127.0.0.1:3000",
            Some("127.0.0.1:3000"),
            "http://x"
        ));
        assert!(same_origin(
            "https://vigil.example",
            None,
            "https://vigil.example/"
        ));
    }

    #[test]
    fn other_sites_and_null_are_refused() {
        assert!(!same_origin(
            "http://evil.example",
            Some("127.0.0.1:3000"),
            "http://127.0.0.1:3000"
        ));
        assert!(!same_origin(
            "null",
            Some("127.0.0.1:3000"),
            "http://127.0.0.1:3000"
        ));
    }
}
