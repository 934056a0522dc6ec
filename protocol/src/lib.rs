//! Vigil's product wire protocol: the versioned, authenticated UDP datagram
//! that products send (heartbeat, hello) and nodes send (wake). Shared by the
//! node, the agent and the fleet simulator; third parties implement the same
//! layout, all integers big-endian:
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 4 | magic `VGL1` |
//! | 4 | 1 | type: 1 heartbeat, 2 hello, 3 wake |
//! | 5 | 16 | product id (UUID bytes) |
//! | 21 | 8 | sequence, strictly increasing per product |
//! | 29 | 8 | sent at, Unix milliseconds |
//! | 37 | 2 | payload length N (N ≤ 1024) |
//! | 39 | N | payload: UTF-8 JSON object, may be empty |
//! | 39+N | 32 | HMAC-SHA256 of bytes [0, 39+N), keyed with the product key |

pub mod api;

use std::sync::atomic::{AtomicU64, Ordering};

use hmac::{Hmac, Mac};
use sha2::Sha256;

pub const MAGIC: &[u8; 4] = b"VGL1";
pub const HEADER_LEN: usize = 39;
pub const TAG_LEN: usize = 32;
pub const MAX_PAYLOAD: usize = 1024;
/// Largest valid datagram.
pub const MAX_DATAGRAM: usize = HEADER_LEN + MAX_PAYLOAD + TAG_LEN;

/// What a datagram is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Heartbeat = 1,
    Hello = 2,
    Wake = 3,
}

impl Kind {
    fn from_byte(b: u8) -> Option<Self> {
        match b {
            1 => Some(Self::Heartbeat),
            2 => Some(Self::Hello),
            3 => Some(Self::Wake),
            _ => None,
        }
    }
}

/// A datagram whose shape is valid; its tag is not checked yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Datagram<'a> {
    pub kind: Kind,
    pub product: [u8; 16],
    pub seq: u64,
    pub sent_at_ms: u64,
    pub payload: &'a [u8],
    signed: &'a [u8],
    tag: &'a [u8],
}

/// Why a datagram's shape is wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Malformed {
    TooShort,
    BadMagic,
    BadKind,
    PayloadTooLong,
    LengthMismatch,
}

impl<'a> Datagram<'a> {
    /// Checks the layout; never panics, whatever the bytes.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, Malformed> {
        if bytes.len() < HEADER_LEN + TAG_LEN {
            return Err(Malformed::TooShort);
        }
        if &bytes[0..4] != MAGIC {
            return Err(Malformed::BadMagic);
        }
        let kind = Kind::from_byte(bytes[4]).ok_or(Malformed::BadKind)?;
        let len = u16::from_be_bytes([bytes[37], bytes[38]]) as usize;
        if len > MAX_PAYLOAD {
            return Err(Malformed::PayloadTooLong);
        }
        if bytes.len() != HEADER_LEN + len + TAG_LEN {
            return Err(Malformed::LengthMismatch);
        }
        let mut product = [0u8; 16];
        product.copy_from_slice(&bytes[5..21]);
        let be_u64 = |at: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&bytes[at..at + 8]);
            u64::from_be_bytes(b)
        };
        Ok(Self {
            kind,
            product,
            seq: be_u64(21),
            sent_at_ms: be_u64(29),
            payload: &bytes[HEADER_LEN..HEADER_LEN + len],
            signed: &bytes[..HEADER_LEN + len],
            tag: &bytes[HEADER_LEN + len..],
        })
    }

    /// Whether the tag was made with `key` (constant-time comparison).
    pub fn verify(&self, key: &[u8]) -> bool {
        self.verify_with(&Key::new(key))
    }

    /// Like [`Self::verify`], with a key prepared once for many datagrams.
    pub fn verify_with(&self, key: &Key) -> bool {
        let mut mac = key.0.clone();
        mac.update(self.signed);
        mac.verify_slice(self.tag).is_ok()
    }
}

/// A product key with its HMAC state prepared: verifying with it skips the
/// key set-up that would otherwise cost two extra SHA-256 blocks per
/// datagram.
#[derive(Clone)]
pub struct Key(Hmac<Sha256>);

impl Key {
    pub fn new(key: &[u8]) -> Self {
        Self(<Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length"))
    }
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key([redacted])")
    }
}

/// Builds a signed datagram.
///
/// # Panics
/// If `payload` is longer than [`MAX_PAYLOAD`].
pub fn encode(
    kind: Kind,
    product: [u8; 16],
    seq: u64,
    sent_at_ms: u64,
    payload: &[u8],
    key: &[u8],
) -> Vec<u8> {
    assert!(
        payload.len() <= MAX_PAYLOAD,
        "payload over {MAX_PAYLOAD} bytes"
    );
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len() + TAG_LEN);
    out.extend_from_slice(MAGIC);
    out.push(kind as u8);
    out.extend_from_slice(&product);
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(&sent_at_ms.to_be_bytes());
    out.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    out.extend_from_slice(payload);
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(&out);
    out.extend_from_slice(&mac.finalize().into_bytes());
    out
}

/// Sequence numbers for the datagrams of one sender: the clock in
/// microseconds, or one more than the last number when the clock has not
/// moved on, so they strictly increase however fast datagrams go (and many
/// products may share one sender).
#[derive(Debug, Default)]
pub struct Sequence(AtomicU64);

impl Sequence {
    pub const fn new() -> Self {
        Self(AtomicU64::new(0))
    }

    /// The next number, above every earlier one; `now_ms` is the sender's
    /// clock in Unix milliseconds.
    pub fn next(&self, now_ms: u64) -> u64 {
        let now = now_ms.saturating_mul(1000);
        let previous = self
            .0
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |last| {
                Some(now.max(last + 1))
            })
            .expect("the update always succeeds");
        now.max(previous + 1)
    }
}

/// Hex HMAC-SHA256 of `body`: the `X-Vigil-Signature` of node → product
/// notifications.
pub fn sign_hex(body: &[u8], key: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";
    const ID: [u8; 16] = [7; 16];

    #[test]
    fn encoded_datagrams_parse_and_verify() {
        let bytes = encode(
            Kind::Heartbeat,
            ID,
            42,
            1_700_000_000_000,
            br#"{"load":0.5}"#,
            KEY,
        );
        let d = Datagram::parse(&bytes).unwrap();
        assert_eq!(
            (d.kind, d.product, d.seq, d.sent_at_ms),
            (Kind::Heartbeat, ID, 42, 1_700_000_000_000)
        );
        assert_eq!(d.payload, br#"{"load":0.5}"#);
        assert!(d.verify(KEY));
        assert!(d.verify_with(&Key::new(KEY)));
        assert!(!d.verify(b"another key"));
    }

    #[test]
    fn a_flipped_bit_breaks_the_tag() {
        let mut bytes = encode(Kind::Hello, ID, 1, 5, b"{}", KEY);
        bytes[25] ^= 1;
        assert!(!Datagram::parse(&bytes).unwrap().verify(KEY));
    }

    #[test]
    fn wrong_shapes_are_named() {
        let good = encode(Kind::Heartbeat, ID, 1, 5, b"", KEY);
        assert_eq!(Datagram::parse(&good[..10]), Err(Malformed::TooShort));
        let mut bad = good.clone();
        bad[0] = b'X';
        assert_eq!(Datagram::parse(&bad), Err(Malformed::BadMagic));
        let mut bad = good.clone();
        bad[4] = 9;
        assert_eq!(Datagram::parse(&bad), Err(Malformed::BadKind));
        let mut bad = good.clone();
        bad.push(0);
        assert_eq!(Datagram::parse(&bad), Err(Malformed::LengthMismatch));
        let mut bad = good;
        bad[37] = 0xff;
        assert_eq!(Datagram::parse(&bad), Err(Malformed::PayloadTooLong));
    }

    #[test]
    fn random_bytes_never_panic() {
        // A small deterministic generator: no test dependency needed.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..100_000 {
            let len = (next() % 1200) as usize;
            let mut bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            if next() % 2 == 0 && bytes.len() >= 5 {
                bytes[..4].copy_from_slice(MAGIC);
            }
            if let Ok(d) = Datagram::parse(&bytes) {
                let _ = d.verify(KEY);
            }
        }
    }

    #[test]
    fn sequences_strictly_increase_even_when_the_clock_stands_still() {
        let seq = Sequence::new();
        assert_eq!(seq.next(5), 5000);
        assert_eq!(seq.next(5), 5001);
        assert_eq!(seq.next(4), 5002, "a clock going back does not matter");
        assert_eq!(seq.next(7), 7000);
    }

    #[test]
    fn signatures_are_hex_hmac() {
        let sig = sign_hex(b"{\"wake\":true}", KEY);
        assert_eq!(sig.len(), 64);
        assert!(sig.chars().all(|c| c.is_ascii_hexdigit()));
    }
}
