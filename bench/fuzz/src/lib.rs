//! A node for the fuzz targets: one in-process node on a fresh SQLite
//! database, started once per fuzzing process, with one registered product.

use std::sync::OnceLock;

use app::api::NodeRole;
use testkit::TestNode;

/// The node and the product the targets talk to.
pub struct Target {
    pub runtime: tokio::runtime::Runtime,
    pub http: reqwest::Client,
    pub url: String,
    pub udp: std::net::SocketAddr,
    pub product: String,
    pub key: String,
    _node: TestNode,
}

/// Starts the node on first use.
pub fn target() -> &'static Target {
    static TARGET: OnceLock<Target> = OnceLock::new();
    TARGET.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let http = reqwest::Client::new();
        let (node, reply) = runtime.block_on(async {
            let db = testkit::databases().await.remove(0);
            let node = TestNode::start(testkit::config(&db, "fuzz", NodeRole::Active)).await;
            let reply = testkit::register_product(&http, &node.url, "fuzz", None).await;
            (node, reply)
        });
        let udp = reply["udp_endpoint"]
            .as_str()
            .and_then(|a| a.parse().ok())
            .expect("the node's UDP endpoint");
        Target {
            url: node.url.clone(),
            udp,
            product: reply["product_id"].as_str().expect("an id").to_owned(),
            key: reply["key"].as_str().expect("a key").to_owned(),
            runtime,
            http,
            _node: node,
        }
    })
}

impl Target {
    /// Fails the fuzz run when the node stopped answering its health check.
    pub fn assert_alive(&self) {
        let status = self.runtime.block_on(async {
            self.http
                .get(format!("{}/healthz", self.url))
                .send()
                .await
                .map(|r| r.status().as_u16())
        });
        assert_eq!(status.ok(), Some(200), "the node stopped answering");
    }
}
