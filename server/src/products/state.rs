//! What the products capability holds on a node: its share of the
//! database and configuration, and what it keeps in memory (keys, held
//! liveness, UDP counters, the wake socket).

use std::sync::Arc;

use super::keys::KeyEntry;
use super::notify::{self, Unreachable, WakePath};
use super::{keys, keywatch, liveness, now_ms, store, sweep, udp, Liveness, Source};
use crate::cluster::singleton::Singleton;
use crate::cluster::{Ending, Signals, Task};
use crate::config::Config;
use crate::db::{Db, StoreError};
use crate::enrollment::Enrollment;
use crate::nodes::Nodes;

/// The products capability; cheap to clone.
#[derive(Clone)]
pub struct Products(Arc<Parts>);

impl std::ops::Deref for Products {
    type Target = Parts;

    fn deref(&self) -> &Parts {
        &self.0
    }
}

/// The fields of [`Products`].
pub struct Parts {
    pub db: Db,
    pub config: Arc<Config>,
    pub nodes: Nodes,
    pub enrollment: Enrollment,
    pub signals: Signals,
    pub recorder: liveness::Recorder,
    pub keys: keys::Keys,
    pub udp: udp::UdpStats,
    pub hellos: udp::Hellos,
    /// The address products send datagrams to.
    pub udp_endpoint: String,
    /// The socket behind it; wake datagrams leave from it, so they come
    /// from the address the product already talks to.
    pub udp_socket: Arc<tokio::net::UdpSocket>,
    /// Its resolver refuses internal addresses; literal addresses in
    /// callback URLs are checked against `callback_allow` before sending.
    pub http: reqwest::Client,
    pub callback_allow: Vec<crate::outbound::Cidr>,
    /// The database clock when the key cache was loaded: where the key
    /// watch starts.
    keys_since: i64,
}

impl Products {
    /// Binds the product UDP socket and loads the known product ids.
    pub async fn open(
        db: Db,
        config: Arc<Config>,
        nodes: Nodes,
        enrollment: Enrollment,
        signals: Signals,
    ) -> Result<Self, anyhow::Error> {
        let socket = udp::bind(config.udp_listen)
            .map_err(|e| anyhow::anyhow!("cannot listen on UDP {}: {e}", config.udp_listen))?;
        let http =
            crate::outbound::client(&config.callback_allow, config.ca_cert.as_deref())?.build()?;
        let keys = keys::Keys::default();
        let keys_since = keywatch::load(&db, &keys).await?;
        Ok(Self(Arc::new(Parts {
            udp_endpoint: socket.local_addr()?.to_string(),
            udp_socket: Arc::new(socket),
            callback_allow: config.callback_allow.clone(),
            http,
            keys,
            keys_since,
            recorder: Default::default(),
            udp: Default::default(),
            hellos: Default::default(),
            db,
            config,
            nodes,
            enrollment,
            signals,
        })))
    }

    /// `product` proved it is alive by a call of kind `source`.
    pub fn heard(&self, product: &KeyEntry, source: Source) {
        self.recorder.record(Liveness {
            product: product.id.clone(),
            at: now_ms(),
            seq: 0,
            activity: None,
            source,
        });
    }

    /// Wakes a product to fetch its commands (see [`notify::wake_any`]):
    /// how, or why it could not be reached.
    pub async fn wake(&self, path: WakePath<'_>) -> Result<String, Unreachable> {
        let heard_within = self.config.product_offline_after();
        notify::wake_any(self, &self.config.notify_only, path, heard_within).await
    }

    /// Whether a product `id` is registered (or known as unmanaged).
    pub async fn exists(&self, id: &str) -> Result<bool, StoreError> {
        Ok(store::get(&self.db, id).await?.is_some())
    }

    /// A product silent this long is offline.
    pub fn offline_after_ms(&self) -> i64 {
        self.config.product_offline_after().as_millis() as i64
    }

    /// The node's product tasks: the UDP receiver, the key watch and the
    /// liveness writer.
    pub fn tasks(&self) -> Vec<Task> {
        let me = &self.nodes.me().name;
        vec![
            Task::spawn(
                "product UDP receiver",
                Ending::Abort,
                udp::run(self.clone()),
            ),
            Task::spawn(
                "product key watch",
                Ending::Abort,
                keywatch::run(self.clone(), self.keys_since),
            ),
            Task::spawn(
                "liveness writer",
                Ending::Finish,
                liveness::run(self.clone(), me.clone(), self.signals.closing()),
            ),
        ]
    }

    /// The cluster-wide singleton of products: the offline sweep.
    pub fn singletons(&self) -> Vec<Box<dyn Singleton>> {
        vec![Box::new(sweep::Sweep::new(
            self.db.clone(),
            self.nodes.offline_after_ms(),
        ))]
    }
}
