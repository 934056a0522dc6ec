//! The processes under test: `vigil serve` nodes on fixed ports (a restarted
//! node comes back where its products send), `vigil-sim` fleets and
//! `vigil-agent` products. Every child is killed when its handle drops.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use tokio::process::{Child, ChildStdin, Command};

pub const ADMIN_PASSWORD: &str = "faults-admin-password";
pub const ENROLLMENT_SECRET: &str = "faults-enrollment-secret-0123456789";

/// A port free on loopback right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Where the binaries are: `target/release` beside this crate's workspace.
pub fn bin(name: &str) -> anyhow::Result<PathBuf> {
    let dir = std::env::var_os("VIGIL_BIN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/release"));
    let path = dir.join(name);
    if !path.exists() {
        bail!("{} is missing (make soak builds it)", path.display());
    }
    Ok(path)
}

/// One node, which can be killed, frozen and started again.
pub struct Node {
    pub name: String,
    pub url: String,
    env: Vec<(String, String)>,
    log: PathBuf,
    child: Option<Child>,
}

impl Node {
    pub fn new(name: &str, database_url: &str, dir: &Path, extra: &[(&str, &str)]) -> Node {
        let (port, udp_port) = (free_port(), free_port());
        let data = dir.join(name);
        std::fs::create_dir_all(&data).expect("node data dir");
        let mut env: Vec<(String, String)> = [
            ("VIGIL_DATABASE_URL", database_url.to_owned()),
            ("VIGIL_LISTEN", format!("127.0.0.1:{port}")),
            ("VIGIL_UDP_LISTEN", format!("127.0.0.1:{udp_port}")),
            ("VIGIL_NODE_NAME", name.to_owned()),
            ("VIGIL_DATA_DIR", data.display().to_string()),
            ("VIGIL_ADMIN_PASSWORD", ADMIN_PASSWORD.to_owned()),
            ("VIGIL_ENROLLMENT_SECRET", ENROLLMENT_SECRET.to_owned()),
            ("VIGIL_CALLBACK_ALLOW", "127.0.0.0/8".to_owned()),
            ("VIGIL_LOG", "info".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        env.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        Node {
            name: name.to_owned(),
            url: format!("http://127.0.0.1:{port}"),
            env,
            log: dir.join(format!("{name}.log")),
            child: None,
        }
    }

    /// Starts the process and waits until it answers `/healthz`.
    pub async fn start(&mut self) -> anyhow::Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)?;
        let mut command = Command::new(bin("vigil")?);
        command
            .arg("serve")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true);
        let mut child = command.spawn().context("start vigil")?;
        let probe = reqwest::Client::new();
        let started = Instant::now();
        loop {
            if let Some(status) = child.try_wait()? {
                bail!(
                    "{} exited with {status}; see {}",
                    self.name,
                    self.log.display()
                );
            }
            let health = probe
                .get(format!("{}/healthz", self.url))
                .timeout(Duration::from_secs(1))
                .send()
                .await;
            if health.is_ok_and(|r| r.status().is_success()) {
                break;
            }
            if started.elapsed() > Duration::from_secs(60) {
                bail!("{} did not become healthy", self.name);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.child = Some(child);
        Ok(())
    }

    fn pid(&self) -> anyhow::Result<u32> {
        self.child
            .as_ref()
            .and_then(Child::id)
            .with_context(|| format!("{} is not running", self.name))
    }

    /// Sends a signal by name (`STOP`, `CONT`, `KILL`).
    pub fn signal(&self, signal: &str) -> anyhow::Result<()> {
        let status = std::process::Command::new("kill")
            .args(["-s", signal, &self.pid()?.to_string()])
            .status()?;
        if !status.success() {
            bail!("kill -s {signal} {} failed", self.name);
        }
        Ok(())
    }

    /// SIGKILL, and the process reaped.
    pub async fn kill(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill().await?;
        }
        Ok(())
    }
}

/// A `vigil-sim` fleet; its stdin is held open (it quits on end of input).
pub struct Fleet {
    _child: Child,
    _stdin: ChildStdin,
}

impl Fleet {
    /// `count` products named `<prefix>-NNNNN`, reporting to `server`
    /// every `interval` seconds over `transport` (`udp` or `http`).
    pub fn start(
        server: &str,
        prefix: &str,
        count: usize,
        transport: &str,
        interval: u32,
        log: &Path,
    ) -> anyhow::Result<Fleet> {
        let log = std::fs::File::create(log)?;
        let mut child = Command::new(bin("vigil-sim")?)
            .args(["--server", server, "--enroll", ENROLLMENT_SECRET])
            .args(["--count", &count.to_string(), "--prefix", prefix])
            .args([
                "--transport",
                transport,
                "--interval",
                &interval.to_string(),
            ])
            .args(["--concurrency", "16"])
            .stdin(Stdio::piped())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .context("start vigil-sim")?;
        let stdin = child.stdin.take().context("sim stdin")?;
        Ok(Fleet {
            _child: child,
            _stdin: stdin,
        })
    }
}

/// A `vigil-agent`: a product that runs commands, two-way (woken by a
/// callback) or one-way (polling).
pub struct Agent {
    pub log: PathBuf,
    _child: Child,
}

impl Agent {
    pub fn start(
        name: &str,
        servers: &[String],
        two_way: bool,
        dir: &Path,
    ) -> anyhow::Result<Agent> {
        let log = dir.join(format!("{name}.log"));
        let file = std::fs::File::create(&log)?;
        let mut command = Command::new(bin("vigil-agent")?);
        for server in servers {
            command.args(["--server", server]);
        }
        command
            .args([
                "--enroll",
                ENROLLMENT_SECRET,
                "--name",
                name,
                "--interval",
                "10",
            ])
            .arg("--state")
            .arg(dir.join(format!("{name}.json")));
        if two_way {
            command.args(["--callback-listen", &format!("127.0.0.1:{}", free_port())]);
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file)
            .kill_on_drop(true)
            .spawn()
            .context("start vigil-agent")?;
        Ok(Agent { log, _child: child })
    }

    /// How many times each command id was run, from the agent's output.
    pub fn runs(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.strip_prefix("command "))
            .filter_map(|l| l.split_whitespace().nth(1))
            .map(|id| id.trim_end_matches(':').to_owned())
            .collect()
    }
}
