//! Product keys held in memory, so that authenticating a datagram or an HTTP
//! call costs no database round trip. Filled on registration and on demand;
//! a key replaced or revoked anywhere in the cluster is dropped within a
//! second by [`super::keywatch`], which also keeps the set of every
//! registered id, so datagrams for made-up ids never reach the database.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, AtomicU32, AtomicU64, Ordering};
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
    /// When the key was set (database clock, ms): a change seen later
    /// means this entry holds a replaced key.
    pub key_changed_at: i64,
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
            key_changed_at: a.key_changed_at,
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
        crate::cluster::same_secret(&self.key_hex, token)
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
    /// Every product id in the database, as of the last poll.
    registered: RwLock<HashSet<[u8; 16]>>,
    /// Keys read from the database (exposed on `/metrics`).
    pub lookups: AtomicU64,
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

    /// The credentials of a datagram's product. Ids no product has are
    /// refused from memory: a flood of made-up ids costs no query.
    pub async fn for_datagram(
        &self,
        db: &Db,
        id: [u8; 16],
    ) -> Result<Option<Arc<KeyEntry>>, StoreError> {
        if let Some(entry) = self.known(id) {
            return Ok(Some(entry));
        }
        if !self.registered.read().expect("keys lock").contains(&id) {
            return Ok(None);
        }
        self.get(db, id).await
    }

    /// Notes ids that exist (loaded at start, or seen by the key poll).
    pub fn learn<'a>(&self, ids: impl IntoIterator<Item = &'a str>) {
        let bytes: Vec<[u8; 16]> = ids.into_iter().filter_map(id_bytes).collect();
        if bytes.is_empty() {
            return;
        }
        let mut unknown = self.unknown.write().expect("keys lock");
        for id in &bytes {
            unknown.remove(id);
        }
        drop(unknown);
        self.registered.write().expect("keys lock").extend(bytes);
    }

    /// Takes in keys changed anywhere in the cluster: `(id, changed at)`.
    /// An entry holding an older key is dropped, so the next call reads
    /// the current one. Returns how many were dropped.
    pub fn changed(&self, changes: &[(String, i64)]) -> usize {
        if changes.is_empty() {
            return 0;
        }
        self.learn(changes.iter().map(|(id, _)| id.as_str()));
        let mut known = self.known.write().expect("keys lock");
        let mut dropped = 0;
        for (id, at) in changes {
            let Some(bytes) = id_bytes(id) else { continue };
            if known.get(&bytes).is_some_and(|e| e.key_changed_at < *at) {
                known.remove(&bytes);
                dropped += 1;
            }
        }
        dropped
    }

    /// Drops a product's cached key at once (revoked on this node).
    pub fn forget(&self, id: [u8; 16]) {
        self.known.write().expect("keys lock").remove(&id);
    }

    /// The credentials of a product if this node holds them already.
    pub fn known(&self, id: [u8; 16]) -> Option<Arc<KeyEntry>> {
        self.known.read().expect("keys lock").get(&id).cloned()
    }

    /// Reads the credentials from the database again.
    pub async fn load(&self, db: &Db, id: [u8; 16]) -> Result<Option<Arc<KeyEntry>>, StoreError> {
        let text = uuid::Uuid::from_bytes(id).hyphenated().to_string();
        self.lookups.fetch_add(1, Ordering::Relaxed);
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

    /// Remembers freshly loaded or registered credentials. A reload can
    /// be caused by anyone with one badly signed datagram, so it must not
    /// make the node forget what it learnt: where the product's datagrams
    /// come from (where to wake it) carries over from the entry it
    /// replaces, and so does, for the same key, the highest sequence
    /// accepted, which the database learns up to a second late (else a
    /// captured datagram could be replayed right after a reload).
    pub fn insert(&self, entry: KeyEntry) -> Arc<KeyEntry> {
        let Some(bytes) = id_bytes(&entry.id) else {
            return Arc::new(entry);
        };
        self.unknown.write().expect("keys lock").remove(&bytes);
        self.registered.write().expect("keys lock").insert(bytes);
        let mut known = self.known.write().expect("keys lock");
        if let Some(old) = known.get(&bytes) {
            let heard = *old.udp_source.lock().expect("source lock");
            *entry.udp_source.lock().expect("source lock") = heard;
            if old.key == entry.key {
                let seen = old.last_seq.load(Ordering::Acquire);
                entry.last_seq.fetch_max(seen, Ordering::AcqRel);
            }
        }
        let entry = Arc::new(entry);
        known.insert(bytes, entry.clone());
        entry
    }

    /// Builds the entry of a registration this node just stored, its key
    /// set at `key_changed_at`.
    pub fn registered(&self, r: &super::Registration, key_changed_at: i64) -> Arc<KeyEntry> {
        let entry = KeyEntry::from_auth(ProductAuth {
            id: r.id.clone(),
            key: r.key.clone(),
            nonce: r.nonce.clone(),
            callback_url: r.callback_url.clone(),
            udp_port: r.udp_port,
            last_seq: 0,
            key_changed_at,
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
            key_changed_at: 100,
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
    fn a_reload_keeps_the_highest_accepted_sequence_of_the_same_key() {
        let keys = Keys::default();
        let first = keys.insert(entry());
        assert!(first.accept_seq(10));
        // The database still says 5: its flush has not run yet.
        let reloaded = keys.insert(entry());
        assert!(!reloaded.accept_seq(10), "seq 10 replayed after a reload");
        assert!(reloaded.accept_seq(11));
    }

    #[test]
    fn a_new_key_starts_its_sequences_afresh() {
        let keys = Keys::default();
        assert!(keys.insert(entry()).accept_seq(1000));
        let mut rekeyed = entry();
        rekeyed.key = vec![1, 2];
        rekeyed.last_seq = AtomicI64::new(0);
        assert!(keys.insert(rekeyed).accept_seq(1));
    }

    #[test]
    fn a_key_changed_elsewhere_is_dropped_and_an_older_change_is_not() {
        let keys = Keys::default();
        let e = keys.insert(entry());
        let id = id_bytes(&e.id).unwrap();
        assert_eq!(keys.changed(&[(e.id.to_string(), 100)]), 0, "its own key");
        assert!(keys.known(id).is_some());
        assert_eq!(keys.changed(&[(e.id.to_string(), 101)]), 1);
        assert!(keys.known(id).is_none());
    }

    #[tokio::test]
    async fn datagrams_of_unregistered_ids_are_refused_without_a_query() {
        let keys = Keys::default();
        // A closed pool: any query would fail rather than answer.
        let db = Db::connect("sqlite::memory:").await.unwrap();
        db.close().await;
        let stranger = [7u8; 16];
        assert!(keys.for_datagram(&db, stranger).await.unwrap().is_none());
        assert_eq!(keys.lookups.load(Ordering::Relaxed), 0);
        keys.learn(["07070707-0707-0707-0707-070707070707"]);
        assert!(
            keys.for_datagram(&db, stranger).await.is_err(),
            "now it is looked up"
        );
        assert_eq!(keys.lookups.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn bearer_tokens_compare_exactly() {
        let e = entry();
        assert!(e.bearer_matches("00ff"));
        assert!(!e.bearer_matches("00fe"));
        assert!(!e.bearer_matches("00ff00"));
    }
}
