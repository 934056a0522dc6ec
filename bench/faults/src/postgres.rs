//! A throwaway PostgreSQL pair on loopback: a primary and a standby fed by
//! streaming replication, made with the server's own tools (initdb,
//! pg_basebackup, pg_ctl). Replication is synchronous, as an operator who
//! cannot lose an acknowledged command would run it, so a promotion loses
//! nothing that was committed.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context};

/// One server of the pair.
pub struct Server {
    pub port: u16,
    pub dir: PathBuf,
}

/// The pair; `stop_all` (or drop) stops both servers.
pub struct Pair {
    bin: PathBuf,
    root: PathBuf,
    pub servers: Vec<Server>,
    /// Index into `servers` of the current primary.
    pub primary: usize,
}

/// The newest installed PostgreSQL's binaries.
fn bin_dir() -> anyhow::Result<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .context("PostgreSQL is not installed (make test-deps installs it)")?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("initdb").exists())
        .collect();
    found.sort();
    found.pop().context("no initdb under /usr/lib/postgresql")
}

fn is_root() -> bool {
    std::env::var("USER").as_deref() == Ok("root")
        || Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.starts_with(b"0"))
}

/// Runs a PostgreSQL tool, as the `postgres` user when we are root (the
/// server refuses to run as root).
fn pg(bin: &Path, tool: &str, args: &[&str]) -> anyhow::Result<()> {
    let mut command = if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(bin.join(tool));
        c
    } else {
        Command::new(bin.join(tool))
    };
    let out = command
        .args(args)
        .output()
        .with_context(|| format!("run {tool}"))?;
    if !out.status.success() {
        bail!(
            "{tool} {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Settings of both servers, on the command line so that a base backup
/// does not carry the primary's into the standby.
fn options(port: u16, dir: &Path) -> String {
    format!(
        "-c listen_addresses=127.0.0.1 -p {port} -k {} -c fsync=off -c full_page_writes=off \
         -c max_connections=300 -c shared_buffers=256MB -c max_wal_size=2GB \
         -c wal_keep_size=512MB -c hot_standby=on",
        dir.display()
    )
}

impl Pair {
    /// Makes and starts both servers under `root`.
    pub fn start(root: &Path) -> anyhow::Result<Pair> {
        let bin = bin_dir()?;
        std::fs::create_dir_all(root)?;
        if is_root() {
            Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(root)
                .status()?;
        }
        let mut pair = Pair {
            bin,
            root: root.to_owned(),
            servers: Vec::new(),
            primary: 0,
        };
        let primary = Server {
            port: free_port(),
            dir: root.join("a"),
        };
        let data = primary.dir.join("data");
        pg(
            &pair.bin,
            "initdb",
            &[
                "-D",
                &data.to_string_lossy(),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            ],
        )?;
        pair.servers.push(primary);
        pair.start_server(0, true)?;
        pair.add_standby(root.join("b"))?;
        Ok(pair)
    }

    fn start_server(&self, i: usize, primary: bool) -> anyhow::Result<()> {
        let server = &self.servers[i];
        let mut opts = options(server.port, &server.dir);
        if primary {
            // A commit waits for the standby's flush: a promotion loses no
            // acknowledged write.
            opts.push_str(" -c synchronous_standby_names=* -c synchronous_commit=on");
        }
        pg(
            &self.bin,
            "pg_ctl",
            &[
                "-D",
                &server.dir.join("data").to_string_lossy(),
                "-l",
                &server.dir.join("log").to_string_lossy(),
                "-w",
                "-o",
                &opts,
                "start",
            ],
        )
    }

    /// A new standby of the current primary in `dir`, started; it becomes
    /// the primary's synchronous standby.
    pub fn add_standby(&mut self, dir: PathBuf) -> anyhow::Result<usize> {
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        std::fs::create_dir_all(&dir)?;
        if is_root() {
            Command::new("chown")
                .arg("postgres:postgres")
                .arg(&dir)
                .status()?;
        }
        let from = self.servers[self.primary].port.to_string();
        pg(
            &self.bin,
            "pg_basebackup",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &from,
                "-U",
                "postgres",
                "-D",
                &dir.join("data").to_string_lossy(),
                "-R",
                "-X",
                "stream",
                // The default waits for a spread checkpoint: minutes under
                // load, with the harness held up meanwhile.
                "--checkpoint=fast",
            ],
        )?;
        // A reused directory keeps its port, so a proxy in front of it
        // finds the new server where the old one was.
        let port = self
            .servers
            .iter()
            .find(|s| s.dir == dir)
            .map_or_else(free_port, |s| s.port);
        self.servers.retain(|s| s.dir != dir);
        self.servers.push(Server { port, dir });
        let i = self.servers.len() - 1;
        self.start_server(i, false)?;
        Ok(i)
    }

    /// Index of the standby (the server that is not the primary).
    pub fn standby(&self) -> Option<usize> {
        (0..self.servers.len()).find(|&i| i != self.primary)
    }

    /// Kills the primary at once (no checkpoint, no goodbye to clients)
    /// and promotes the standby; returns the new primary's index.
    pub fn fail_over(&mut self) -> anyhow::Result<usize> {
        let standby = self.standby().context("no standby to promote")?;
        let old = self.primary;
        let _ = pg(
            &self.bin,
            "pg_ctl",
            &[
                "-D",
                &self.servers[old].dir.join("data").to_string_lossy(),
                "-m",
                "immediate",
                "stop",
            ],
        );
        pg(
            &self.bin,
            "pg_ctl",
            &[
                "-D",
                &self.servers[standby].dir.join("data").to_string_lossy(),
                "-w",
                "promote",
            ],
        )?;
        // The standby was started without `synchronous_standby_names`:
        // until a new standby exists, commits wait for none.
        self.primary = standby;
        Ok(standby)
    }

    /// Rebuilds the killed server as a standby of the new primary, at its
    /// old directory and port.
    pub fn rebuild_standby(&mut self) -> anyhow::Result<()> {
        let old = self.standby().context("no old server")?;
        let dir = self.servers[old].dir.clone();
        self.add_standby(dir)?;
        // One statement per call: ALTER SYSTEM refuses a transaction block.
        self.psql(
            "ALTER SYSTEM SET synchronous_standby_names = '*'",
            "postgres",
        )?;
        self.psql("SELECT pg_reload_conf()", "postgres")
    }

    /// Runs `sql` on the primary as the superuser.
    pub fn psql(&self, sql: &str, db: &str) -> anyhow::Result<()> {
        let server = &self.servers[self.primary];
        pg(
            &self.bin,
            "psql",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &server.port.to_string(),
                "-U",
                "postgres",
                "-d",
                db,
                "-v",
                "ON_ERROR_STOP=1",
                "-q",
                "-c",
                sql,
            ],
        )
    }

    /// A URL of the primary for the harness's own checks.
    pub fn url(&self, db: &str) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{}/{db}",
            self.servers[self.primary].port
        )
    }

    /// Stops every server and removes the files.
    pub fn stop_all(&mut self) {
        for server in &self.servers {
            let _ = pg(
                &self.bin,
                "pg_ctl",
                &[
                    "-D",
                    &server.dir.join("data").to_string_lossy(),
                    "-m",
                    "immediate",
                    "stop",
                ],
            );
        }
        self.servers.clear();
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

impl Drop for Pair {
    fn drop(&mut self) {
        self.stop_all();
    }
}
