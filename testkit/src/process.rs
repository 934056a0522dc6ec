//! Real nodes as separate processes (the `vigil` binary), for the tests
//! that kill one the hard way (SIGKILL): nothing of it runs on after that,
//! unlike a node in this process.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

use crate::{TestDb, ADMIN_PASSWORD, ENROLLMENT_SECRET};

/// A `vigil serve` process on loopback.
pub struct NodeProcess {
    pub name: String,
    pub url: String,
    child: Child,
}

/// A port free on loopback right now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

impl NodeProcess {
    /// Starts `bin` as node `name` on `db`, with `env` (`VIGIL_…`) added;
    /// it answers `/healthz` when this returns. Its log is
    /// `<db.dir>/<name>.log`.
    pub async fn start(bin: &Path, db: &TestDb, name: &str, env: &[(&str, &str)]) -> NodeProcess {
        let port = free_port();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(db.dir.join(format!("{name}.log")))
            .expect("node log");
        let mut command = Command::new(bin);
        command
            .arg("serve")
            .env("VIGIL_DATABASE_URL", &db.url)
            .env("VIGIL_LISTEN", format!("127.0.0.1:{port}"))
            .env("VIGIL_UDP_LISTEN", "127.0.0.1:0")
            .env("VIGIL_NODE_NAME", name)
            .env("VIGIL_DATA_DIR", db.data_dir())
            .env("VIGIL_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("VIGIL_ENROLLMENT_SECRET", ENROLLMENT_SECRET)
            .env("VIGIL_CALLBACK_ALLOW", "127.0.0.0/8")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("node log"))
            .stderr(log)
            .kill_on_drop(true);
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("start the vigil binary");
        // With `VIGIL_TLS_CERT` the node serves HTTPS; readiness is only
        // probed here, so the probe does not check the test's certificate.
        let https = env.iter().any(|(key, _)| *key == "VIGIL_TLS_CERT");
        let url = format!(
            "{}://127.0.0.1:{port}",
            if https { "https" } else { "http" }
        );
        let probe = reqwest::Client::builder()
            .danger_accept_invalid_certs(https)
            .build()
            .expect("probe client");
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("{name} exited with {status}; see {}", db.dir.display());
            }
            if let Ok(r) = probe.get(format!("{url}/healthz")).send().await {
                if r.status().is_success() {
                    break;
                }
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "{name} did not become healthy"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        NodeProcess {
            name: name.to_owned(),
            url,
            child,
        }
    }

    /// Its process id (for CPU figures), while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// SIGKILL, as a crash or the OOM killer would: no goodbye, no lease
    /// released.
    pub async fn kill(&mut self) {
        self.child.kill().await.expect("kill the node");
    }
}
