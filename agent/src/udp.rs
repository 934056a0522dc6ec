//! The product's side of the UDP datagrams: signed heartbeats and hellos to
//! the node, and the node's wake datagrams received on the same socket.

use protocol::Kind;
use serde_json::{json, Value};
use tokio::net::UdpSocket;

use crate::{now_ms, Identity};

/// Sends signed datagrams for one or many products, and receives the
/// node's wake datagrams on the same socket.
pub struct Datagrams {
    socket: UdpSocket,
    /// Every datagram of this socket gets a higher number than the last.
    seq: protocol::Sequence,
}

/// Why a received datagram was ignored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WakeRejected {
    Malformed,
    NotAWake,
    OtherProduct,
    BadTag,
    Stale,
}

/// A valid wake datagram from a node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Wake {
    /// Fetch the waiting commands now.
    Fetch,
    /// The handshake's test of the wake path: answer with a hello carrying
    /// this challenge as its nonce.
    Probe(String),
}

/// A datagram sent more than this far from our clock is ignored.
pub const WAKE_WINDOW_MS: u64 = 5 * 60 * 1000;

/// Checks a datagram received from a node: a wake for `me`, signed with its
/// key, sent within [`WAKE_WINDOW_MS`]. A replayed wake only causes one
/// more fetch, so sequences are not tracked.
pub fn read_wake(bytes: &[u8], me: &Identity) -> Result<Wake, WakeRejected> {
    let d = protocol::Datagram::parse(bytes).map_err(|_| WakeRejected::Malformed)?;
    if d.kind != Kind::Wake {
        return Err(WakeRejected::NotAWake);
    }
    if crate::id_bytes(me).ok() != Some(d.product) {
        return Err(WakeRejected::OtherProduct);
    }
    let key = crate::key_bytes(me).map_err(|_| WakeRejected::BadTag)?;
    if !d.verify(&key) {
        return Err(WakeRejected::BadTag);
    }
    if now_ms().abs_diff(d.sent_at_ms) > WAKE_WINDOW_MS {
        return Err(WakeRejected::Stale);
    }
    let nonce = serde_json::from_slice::<Value>(d.payload)
        .ok()
        .and_then(|p| p.get("nonce")?.as_str().map(str::to_owned));
    Ok(match nonce {
        Some(n) => Wake::Probe(n),
        None => Wake::Fetch,
    })
}

impl Datagrams {
    pub async fn bind() -> anyhow::Result<Self> {
        Ok(Self {
            socket: UdpSocket::bind("0.0.0.0:0").await?,
            seq: protocol::Sequence::new(),
        })
    }

    /// The local port: where the node's wake datagrams arrive.
    pub fn port(&self) -> anyhow::Result<u16> {
        Ok(self.socket.local_addr()?.port())
    }

    /// Signs and sends one datagram to the node's UDP endpoint.
    pub async fn send(&self, me: &Identity, kind: Kind, payload: &[u8]) -> anyhow::Result<()> {
        let bytes = protocol::encode(
            kind,
            crate::id_bytes(me)?,
            self.seq.next(now_ms()),
            now_ms(),
            payload,
            &crate::key_bytes(me)?,
        );
        self.socket.send_to(&bytes, &me.udp_endpoint).await?;
        Ok(())
    }

    /// The hello that lets the node pick UDP as transport.
    pub async fn hello(&self, me: &Identity) -> anyhow::Result<()> {
        self.answer_probe(me, &me.nonce).await
    }

    /// The hello that answers a wake probe: it echoes the probe's challenge.
    pub async fn answer_probe(&self, me: &Identity, challenge: &str) -> anyhow::Result<()> {
        let payload = json!({ "nonce": challenge }).to_string();
        self.send(me, Kind::Hello, payload.as_bytes()).await
    }

    /// Waits for the next datagram and returns its length.
    pub async fn receive(&self, buf: &mut [u8]) -> std::io::Result<usize> {
        let (n, _) = self.socket.recv_from(buf).await?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity() -> Identity {
        Identity {
            product_id: "0e7e3c9a-1b2c-4d5e-8f90-a1b2c3d4e5f6".into(),
            key: "00ff00ff".into(),
            nonce: "n1".into(),
            udp_endpoint: "127.0.0.1:9".into(),
            heartbeat_interval_s: 5,
            offline_after_s: 15,
            nodes: vec![],
        }
    }

    fn wake(me: &Identity, kind: Kind, sent_at: u64, payload: &[u8], key: &[u8]) -> Vec<u8> {
        protocol::encode(kind, crate::id_bytes(me).unwrap(), 1, sent_at, payload, key)
    }

    #[test]
    fn wakes_are_read_only_when_signed_for_us_and_recent() {
        let me = identity();
        let key = crate::key_bytes(&me).unwrap();
        let now = now_ms();
        assert_eq!(
            read_wake(&wake(&me, Kind::Wake, now, b"", &key), &me),
            Ok(Wake::Fetch)
        );
        assert_eq!(
            read_wake(&wake(&me, Kind::Wake, now, br#"{"nonce":"n1"}"#, &key), &me),
            Ok(Wake::Probe("n1".into()))
        );
        let wrong_key = wake(&me, Kind::Wake, now, b"", b"other");
        assert_eq!(read_wake(&wrong_key, &me), Err(WakeRejected::BadTag));
        let old = wake(&me, Kind::Wake, now - WAKE_WINDOW_MS - 1000, b"", &key);
        assert_eq!(read_wake(&old, &me), Err(WakeRejected::Stale));
        let heartbeat = wake(&me, Kind::Heartbeat, now, b"", &key);
        assert_eq!(read_wake(&heartbeat, &me), Err(WakeRejected::NotAWake));
        let mut other = identity();
        other.product_id = "11111111-1b2c-4d5e-8f90-a1b2c3d4e5f6".into();
        let theirs = protocol::encode(
            Kind::Wake,
            crate::id_bytes(&other).unwrap(),
            1,
            now,
            b"",
            &key,
        );
        assert_eq!(read_wake(&theirs, &me), Err(WakeRejected::OtherProduct));
        assert_eq!(read_wake(b"VGL1", &me), Err(WakeRejected::Malformed));
    }
}
