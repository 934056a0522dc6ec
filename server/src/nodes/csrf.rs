//! Cross-site request forgery guard for state-changing requests.
//!
//! Session cookies are SameSite=Lax, so browsers do not send them on
//! cross-site POSTs; on top of that, a state-changing request that a browser
//! marks as coming from another site is refused here, and so is one whose
//! `Origin` (scheme, host and port) is not a URL of the cluster's own nodes
//! as registered. The `Host` header is not trusted for this: anyone who can
//! point a name at the node chooses it. Non-browser clients (agents,
//! scripts) send neither `Origin` nor `Sec-Fetch-Site` and pass.

use axum::extract::{Request, State};
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::Nodes;
use crate::error::ApiError;

pub async fn guard(State(nodes): State<Nodes>, request: Request, next: Next) -> Response {
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
    let origin = headers
        .get(header::ORIGIN)
        .map(|v| v.to_str().unwrap_or("null").to_owned());
    let origin_ok = match origin {
        None => true,
        Some(origin) => match origin_of(&origin) {
            None => false, // includes the opaque origin "null"
            Some(origin) => is_cluster_origin(&nodes, &origin).await,
        },
    };
    if cross_site || !origin_ok {
        return ApiError::forbidden("cross-site request refused").into_response();
    }
    next.run(request).await
}

/// `scheme://host[:port]` of a URL, with default ports left out.
fn origin_of(url: &str) -> Option<String> {
    let parsed = reqwest::Url::parse(url).ok()?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return None;
    }
    Some(parsed.origin().ascii_serialization())
}

/// Whether `origin` is this node's public URL, or another registered node's.
/// A node left at its default address (no public URL, loopback) is also
/// reached as `localhost`.
async fn is_cluster_origin(nodes: &Nodes, origin: &str) -> bool {
    if own_origins(&nodes.me().url, nodes.me().derived_url)
        .iter()
        .any(|o| o == origin)
    {
        return true;
    }
    match nodes.records().await {
        Ok((records, _)) => records
            .iter()
            .any(|n| origin_of(&n.url).as_deref() == Some(origin)),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the node registry for an origin check");
            false
        }
    }
}

/// The origins this node answers to by itself.
fn own_origins(url: &str, derived: bool) -> Vec<String> {
    let mut origins: Vec<String> = origin_of(url).into_iter().collect();
    let loopback = reqwest::Url::parse(url).ok().filter(|u| {
        derived
            && u.host_str()
                .and_then(|h| h.trim_matches(['[', ']']).parse::<std::net::IpAddr>().ok())
                .is_some_and(|ip| ip.is_loopback())
    });
    if let Some(u) = loopback {
        if let Some(port) = u.port_or_known_default() {
            origins.push(format!("{}://localhost:{port}", u.scheme()));
        }
    }
    origins
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_compare_scheme_host_and_port() {
        assert_eq!(
            origin_of("https://vigil.example:443/").as_deref(),
            Some("https://vigil.example")
        );
        assert_eq!(
            origin_of("http://127.0.0.1:3000").as_deref(),
            Some("http://127.0.0.1:3000")
        );
        assert_eq!(origin_of("null"), None);
        assert_eq!(origin_of("file:///etc/passwd"), None);
        assert_ne!(
            origin_of("https://127.0.0.1:3000"),
            origin_of("http://127.0.0.1:3000"),
            "the scheme counts"
        );
    }

    #[test]
    fn a_node_at_its_default_loopback_address_also_answers_to_localhost() {
        assert_eq!(
            own_origins("http://127.0.0.1:3000", true),
            ["http://127.0.0.1:3000", "http://localhost:3000"]
        );
        assert_eq!(
            own_origins("http://127.0.0.1:3000", false),
            ["http://127.0.0.1:3000"]
        );
        assert_eq!(
            own_origins("https://vigil.example", true),
            ["https://vigil.example"]
        );
    }
}
