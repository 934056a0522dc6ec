//! Node → product notifications: a signed `{"wake": true}` POST to the
//! product's callback URL (a 2xx answer is a successful notification, and
//! proof of life), or, for a product without a callback that listens for
//! them, a signed wake datagram (type 3) sent from the node's UDP socket to
//! the port the product named, at the address its datagrams come from. A
//! datagram is not answered: the product's fetch that follows is its proof.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::http::header;
use protocol::Kind;

use super::{now_ms, Liveness, Products, Source};
pub use crate::config::Reach;

/// How long a node waits for a product's callback to answer.
pub const CALLBACK_TIMEOUT: Duration = Duration::from_secs(2);

/// Why a product could not be woken.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unreachable {
    NoCallback,
    OutOfReach,
    Failed(String),
    /// The callback points at an address the node may not reach.
    Refused(String),
    /// It listens for wake datagrams, but this node has not heard from it
    /// lately, so does not know where it is.
    NotHeard,
    SendFailed(String),
    /// The callback failed, and so did the wake datagram.
    Neither(Box<Unreachable>, Box<Unreachable>),
}

impl std::fmt::Display for Unreachable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NoCallback => f.write_str("the product has no callback URL and no wake port"),
            Self::OutOfReach => f.write_str("the callback is outside this node's reach"),
            Self::Failed(why) => write!(f, "callback failed: {why}"),
            Self::Refused(why) => write!(f, "callback refused: {why}"),
            Self::NotHeard => f.write_str("no recent datagram from the product on this node"),
            Self::SendFailed(why) => write!(f, "wake datagram not sent: {why}"),
            Self::Neither(callback, datagram) => write!(f, "{callback}; {datagram}"),
        }
    }
}

/// A product's ways to be woken, as its record says.
#[derive(Clone, Copy, Debug)]
pub struct WakePath<'a> {
    pub product: &'a Arc<str>,
    pub key: &'a [u8],
    pub callback_url: Option<&'a str>,
    pub udp_port: Option<u16>,
}

/// Wakes a product: through its callback when it has one, else (or when
/// the callback fails) by a wake datagram when it listens for them and this
/// node heard from it within `heard_within`. Returns how, for the command's
/// timeline.
pub async fn wake_any(
    products: &Products,
    reach: &Reach,
    path: WakePath<'_>,
    heard_within: Duration,
) -> Result<String, Unreachable> {
    if path.callback_url.is_some() {
        let called = wake(products, reach, path.product, path.callback_url, path.key).await;
        return match (called, path.udp_port) {
            (Ok(()), _) => Ok("callback answered".to_owned()),
            (Err(e), None) => Err(e),
            (Err(e), Some(_)) => wake_by_datagram(products, path, heard_within)
                .await
                .map_err(|u| Unreachable::Neither(Box::new(e), Box::new(u))),
        };
    }
    wake_by_datagram(products, path, heard_within).await
}

/// The datagram goes only where this node hears the product from, so it
/// needs no `notify_only` check: hearing the product is the proof of reach.
async fn wake_by_datagram(
    products: &Products,
    path: WakePath<'_>,
    heard_within: Duration,
) -> Result<String, Unreachable> {
    let port = path.udp_port.ok_or(Unreachable::NoCallback)?;
    let id = super::keys::id_bytes(path.product).ok_or(Unreachable::NotHeard)?;
    let heard = products
        .keys
        .known(id)
        .and_then(|entry| entry.udp_source(heard_within))
        .ok_or(Unreachable::NotHeard)?;
    let target = SocketAddr::new(heard.ip(), port);
    wake_udp(products, id, path.key, target, b"").await?;
    Ok(format!("UDP wake sent to {target}"))
}

/// Sequence numbers of the wake datagrams this process sends.
static WAKE_SEQ: protocol::Sequence = protocol::Sequence::new();

/// Sends one signed wake datagram (`payload`: empty for "fetch now", or
/// the handshake's `{"nonce": …}` probe) from the node's UDP socket, to the
/// address of a datagram the product sent.
pub async fn wake_udp(
    products: &Products,
    product: [u8; 16],
    key: &[u8],
    target: SocketAddr,
    payload: &[u8],
) -> Result<(), Unreachable> {
    let sent_at = u64::try_from(now_ms()).unwrap_or(0);
    let seq = WAKE_SEQ.next(sent_at);
    let datagram = protocol::encode(Kind::Wake, product, seq, sent_at, payload, key);
    products
        .udp_socket
        .send_to(&datagram, target)
        .await
        .map(|_| ())
        .map_err(|e| Unreachable::SendFailed(e.kind().to_string()))
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
    // Registration checked the URL too, but under the rules of its time
    // and its node; names are checked by the client's resolver.
    crate::outbound::check_url(url, &products.callback_allow).map_err(Unreachable::Refused)?;
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
