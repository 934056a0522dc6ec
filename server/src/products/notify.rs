//! Node → product notifications: a signed `{"wake": true}` POST to the
//! product's callback URL. A 2xx answer is a successful notification, and
//! proof of life.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::http::header;

use super::{now_ms, Liveness, Products, Source};

/// How long a node waits for a product's callback to answer.
pub const CALLBACK_TIMEOUT: Duration = Duration::from_secs(2);

/// The callback URLs a node may notify: every URL, or only those under
/// given prefixes (the network segments the node can reach). Shared by the
/// clones of a configuration, so it can be changed while the node runs.
#[derive(Clone, Debug, Default)]
pub struct Reach(Arc<RwLock<Option<Vec<String>>>>);

impl Reach {
    /// Only URLs starting with one of `prefixes`.
    pub fn only(prefixes: Vec<String>) -> Self {
        Self(Arc::new(RwLock::new(Some(prefixes))))
    }

    /// Changes the prefixes (`None`: every URL).
    pub fn set(&self, prefixes: Option<Vec<String>>) {
        *self.0.write().expect("reach lock") = prefixes;
    }

    pub fn allows(&self, url: &str) -> bool {
        match &*self.0.read().expect("reach lock") {
            None => true,
            Some(prefixes) => prefixes.iter().any(|p| url.starts_with(p.as_str())),
        }
    }
}

/// Why a product could not be woken.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unreachable {
    NoCallback,
    OutOfReach,
    Failed(String),
}

impl std::fmt::Display for Unreachable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NoCallback => f.write_str("the product has no callback URL"),
            Self::OutOfReach => f.write_str("the callback is outside this node's reach"),
            Self::Failed(why) => write!(f, "callback failed: {why}"),
        }
    }
}

/// Wakes a product through its callback; records the proof of life when
/// it answers.
pub async fn wake(
    products: &Products,
    reach: &Reach,
    product: &Arc<str>,
    callback_url: Option<&str>,
    key: &[u8],
) -> Result<(), Unreachable> {
    let url = callback_url.ok_or(Unreachable::NoCallback)?;
    if !reach.allows(url) {
        return Err(Unreachable::OutOfReach);
    }
    let body = br#"{"wake":true}"#.to_vec();
    let signature = protocol::sign_hex(&body, key);
    let sent = products
        .http
        .post(url)
        .header(header::CONTENT_TYPE, "application/json")
        .header("X-Vigil-Signature", signature)
        .body(body)
        .timeout(CALLBACK_TIMEOUT)
        .send()
        .await;
    match sent {
        Ok(r) if r.status().is_success() => {
            products.recorder.record(Liveness {
                product: product.clone(),
                at: now_ms(),
                seq: 0,
                activity: None,
                source: Source::Notification,
            });
            Ok(())
        }
        Ok(r) => Err(Unreachable::Failed(format!("HTTP {}", r.status().as_u16()))),
        Err(e) if e.is_timeout() => Err(Unreachable::Failed("no answer in time".into())),
        Err(e) if e.is_connect() => Err(Unreachable::Failed(
            "connection refused or unreachable".into(),
        )),
        Err(_) => Err(Unreachable::Failed("request error".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reach_limits_callbacks_to_its_prefixes_and_can_change() {
        let everything = Reach::default();
        assert!(everything.allows("http://10.0.0.1/wake"));
        let segment = Reach::only(vec!["http://127.0.1.".into()]);
        assert!(segment.allows("http://127.0.1.1:8080/wake"));
        assert!(!segment.allows("http://127.0.2.1:8080/wake"));
        let shared = segment.clone();
        shared.set(Some(vec!["http://127.0.2.".into()]));
        assert!(segment.allows("http://127.0.2.1:8080/wake"));
    }
}
