//! Product keys held in memory, so that authenticating a datagram or an HTTP
//! call costs no database round trip. Filled on registration and on demand.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use super::store::{self, ProductAuth};
use crate::db::{Db, StoreError};

/// Unknown ids are not looked up again for this long (a flood of datagrams
/// for made-up products must not become a flood of queries).
const NEGATIVE_TTL: Duration = Duration::from_secs(5);
/// A cached key may be reloaded once it is this old (the product may have
/// re-registered on another node with a new key).
pub const RELOAD_AFTER: Duration = Duration::from_secs(2);

/// What a node knows of one product's credentials.
#[derive(Debug)]
pub struct KeyEntry {
    pub id: Arc<str>,
    pub key: Vec<u8>,
    /// The key, prepared for verifying datagrams.
    pub mac: protocol::Key,
    pub key_hex: String,
    pub nonce: String,
    pub callback_url: Option<String>,
    /// Where the product said it listens for wake datagrams (0: nowhere).
    udp_port: AtomicU32,
    /// Highest datagram sequence accepted.
    pub last_seq: AtomicI64,
    /// Where and when this node last accepted a datagram of the product:
    /// where its wake datagrams go. Only the node that hears the product
    /// knows it, which is what makes that node able to wake it.
    udp_source: Mutex<Option<(SocketAddr, Instant)>>,
    pub loaded_at: Instant,
}

impl KeyEntry {
    fn from_auth(a: ProductAuth) -> Option<Self> {
        let key = hex::decode(&a.key).ok()?;
        Some(Self {
            mac: protocol::Key::new(&key),
            key,
            id: a.id.into(),
            key_hex: a.key,
            nonce: a.nonce,
            callback_url: a.callback_url,
            udp_port: AtomicU32::new(a.udp_port.map_or(0, u32::from)),
            last_seq: AtomicI64::new(a.last_seq),
            udp_source: Mutex::new(None),
            loaded_at: Instant::now(),
        })
    }

    /// Where the product listens for wake datagrams, as last said.
    pub fn udp_port(&self) -> Option<u16> {
        u16::try_from(self.udp_port.load(Ordering::Relaxed))
            .ok()
            .filter(|&p| p != 0)
    }

    /// Notes the wake port a handshake named.
    pub fn set_udp_port(&self, port: u16) {
        self.udp_port.store(u32::from(port), Ordering::Relaxed);
    }

    /// Notes the address of a datagram just accepted.
    pub fn heard_from(&self, from: SocketAddr) {
        *self.udp_source.lock().expect("source lock") = Some((from, Instant::now()));
    }

    /// The address of the product's last datagram, if one came within
    /// `within`.
    pub fn udp_source(&self, within: Duration) -> Option<SocketAddr> {
        self.udp_source
            .lock()
            .expect("source lock")
            .filter(|(_, at)| at.elapsed() < within)
            .map(|(from, _)| from)
    }

    /// Constant-time check of a bearer token against the key.
    pub fn bearer_matches(&self, token: &str) -> bool {
        super::same_secret(&self.key_hex, token)
    }

    /// Accepts `seq` if it is above every accepted one.
    pub fn accept_seq(&self, seq: i64) -> bool {
        self.last_seq.fetch_max(seq, Ordering::AcqRel) < seq
    }
}

#[derive(Default)]
pub struct Keys {
    known: RwLock<HashMap<[u8; 16], Arc<KeyEntry>>>,
    unknown: RwLock<HashMap<[u8; 16], Instant>>,
}

/// The 16 bytes of a product id in its text form.
pub fn id_bytes(id: &str) -> Option<[u8; 16]> {
    uuid::Uuid::parse_str(id).ok().map(|u| *u.as_bytes())
}

impl Keys {
    /// The credentials of a product, from memory or the database.
    pub async fn get(&self, db: &Db, id: [u8; 16]) -> Result<Option<Arc<KeyEntry>>, StoreError> {
        if let Some(entry) = self.known.read().expect("keys lock").get(&id) {
            return Ok(Some(entry.clone()));
        }
        let recently_unknown = self
            .unknown
            .read()
            .expect("keys lock")
            .get(&id)
            .is_some_and(|at| at.elapsed() < NEGATIVE_TTL);
        if recently_unknown {
            return Ok(None);
        }
        self.load(db, id).await
    }

    /// The credentials of a product if this node holds them already.
    pub fn known(&self, id: [u8; 16]) -> Option<Arc<KeyEntry>> {
        self.known.read().expect("keys lock").get(&id).cloned()
    }

    /// Reads the credentials from the database again.
    pub async fn load(&self, db: &Db, id: [u8; 16]) -> Result<Option<Arc<KeyEntry>>, StoreError> {
        let text = uuid::Uuid::from_bytes(id).hyphenated().to_string();
        match store::auth(db, &text).await?.and_then(KeyEntry::from_auth) {
            Some(entry) => Ok(Some(self.insert(entry))),
            None => {
                let mut unknown = self.unknown.write().expect("keys lock");
                if unknown.len() > 100_000 {
                    unknown.retain(|_, at| at.elapsed() < NEGATIVE_TTL);
                }
                unknown.insert(id, Instant::now());
                Ok(None)
            }
        }
    }

    /// Remembers freshly loaded or registered credentials. Where the
    /// product's datagrams come from carries over from the entry it
    /// replaces: a reload (which anyone can cause with one badly signed
    /// datagram) must not make the node forget where to wake the product.
    pub fn insert(&self, entry: KeyEntry) -> Arc<KeyEntry> {
        let Some(bytes) = id_bytes(&entry.id) else {
            return Arc::new(entry);
        };
        self.unknown.write().expect("keys lock").remove(&bytes);
        let mut known = self.known.write().expect("keys lock");
        if let Some(old) = known.get(&bytes) {
            let heard = *old.udp_source.lock().expect("source lock");
            *entry.udp_source.lock().expect("source lock") = heard;
        }
        let entry = Arc::new(entry);
        known.insert(bytes, entry.clone());
        entry
    }

    /// Builds the entry of a registration this node just stored.
    pub fn registered(&self, r: &super::Registration) -> Arc<KeyEntry> {
        let entry = KeyEntry::from_auth(ProductAuth {
            id: r.id.clone(),
            key: r.key.clone(),
            nonce: r.nonce.clone(),
            callback_url: r.callback_url.clone(),
            udp_port: r.udp_port,
            last_seq: 0,
        })
        .expect("generated keys are hex");
        self.insert(entry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> KeyEntry {
        KeyEntry::from_auth(ProductAuth {
            id: "0e7e3c9a-1b2c-4d5e-8f90-a1b2c3d4e5f6".into(),
            key: "00ff".into(),
            nonce: "n".into(),
            callback_url: None,
            udp_port: None,
            last_seq: 5,
        })
        .unwrap()
    }

    #[test]
    fn sequences_must_strictly_increase() {
        let e = entry();
        assert!(!e.accept_seq(5));
        assert!(e.accept_seq(6));
        assert!(!e.accept_seq(6));
        assert!(!e.accept_seq(3));
        assert!(e.accept_seq(100));
    }

    #[test]
    fn the_datagram_source_is_remembered_only_while_recent() {
        let e = entry();
        assert_eq!(e.udp_source(Duration::from_secs(5)), None);
        let from: SocketAddr = "127.0.0.7:4000".parse().unwrap();
        e.heard_from(from);
        assert_eq!(e.udp_source(Duration::from_secs(5)), Some(from));
        assert_eq!(e.udp_source(Duration::ZERO), None);
    }

    #[test]
    fn a_reloaded_key_keeps_where_the_product_was_heard_from() {
        let keys = Keys::default();
        let first = keys.insert(entry());
        let from: SocketAddr = "127.0.0.7:4000".parse().unwrap();
        first.heard_from(from);
        let reloaded = keys.insert(entry());
        assert!(!Arc::ptr_eq(&first, &reloaded));
        assert_eq!(reloaded.udp_source(Duration::from_secs(5)), Some(from));
    }

    #[test]
    fn bearer_tokens_compare_exactly() {
        let e = entry();
        assert!(e.bearer_matches("00ff"));
        assert!(!e.bearer_matches("00fe"));
        assert!(!e.bearer_matches("00ff00"));
    }
}
