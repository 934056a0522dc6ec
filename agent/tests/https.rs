//! `vigil-agent` against a node serving HTTPS with a certificate from a
//! private CA: with `--ca-cert` it registers, reports and runs a command;
//! without it, it refuses the node and nothing registers.

use std::process::Stdio;
use std::time::{Duration, Instant};

use app::api::{CommandSummary, NodeRole, ProductPage};

use serde_json::json;
use testkit::tls::TestCa;
use testkit::TestNode;
use tokio::process::Command;

struct Console {
    http: reqwest::Client,
    url: String,
    cookie: String,
}

impl Console {
    async fn sign_in(url: &str, ca: &TestCa) -> Self {
        let http = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(ca.cert_pem().as_bytes()).unwrap())
            .build()
            .unwrap();
        let login = http
            .post(format!("{url}/api/v1/auth/login"))
            .json(&json!({"username": "admin", "password": testkit::ADMIN_PASSWORD}))
            .send()
            .await
            .unwrap();
        assert!(login.status().is_success());
        let cookie = login.headers()["set-cookie"].to_str().unwrap();
        let cookie = cookie.split(';').next().unwrap().to_owned();
        Self {
            http,
            url: url.to_owned(),
            cookie,
        }
    }

    async fn products(&self) -> ProductPage {
        self.http
            .get(format!("{}/api/v1/products", self.url))
            .header("cookie", &self.cookie)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn command(&self, id: &str) -> CommandSummary {
        self.http
            .get(format!("{}/api/v1/commands/{id}", self.url))
            .header("cookie", &self.cookie)
            .send()
            .await
            .unwrap()
            .json::<app::api::CommandDetail>()
            .await
            .unwrap()
            .command
    }
}

fn agent(node: &str, dir: &std::path::Path, ca: Option<&std::path::Path>) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_vigil-agent"));
    command
        .args(["--server", node, "--enroll", testkit::ENROLLMENT_SECRET])
        .args(["--name", "agent-tls", "--interval", "1"])
        .arg("--state")
        .arg(dir.join("agent.json"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(ca) = ca {
        command.arg("--ca-cert").arg(ca);
    }
    command
}

#[tokio::test]
async fn an_agent_reports_to_an_https_node_it_verifies_with_its_ca() {
    for db in testkit::databases().await {
        let ca = TestCa::new("agent test CA");
        let written = ca.write(&db.dir, &["127.0.0.1"]).unwrap();
        let mut config = testkit::config(&db, "tls-node", NodeRole::Active);
        config.tls_cert = Some(written.cert.clone());
        config.tls_key = Some(written.key.clone());
        let node = TestNode::start(config).await;
        let console = Console::sign_in(&node.url, &ca).await;

        // Without the CA the agent refuses the node: nothing registers.
        let mut refused = agent(&node.url, &db.dir, None).spawn().unwrap();
        tokio::time::sleep(Duration::from_secs(2)).await;
        refused.start_kill().unwrap();
        let said = refused.wait_with_output().await.unwrap();
        let said = String::from_utf8_lossy(&[said.stdout, said.stderr].concat()).to_lowercase();
        assert!(said.contains("certificate"), "{said}");
        assert_eq!(console.products().await.total, 0, "{}", db.engine);

        let running = agent(&node.url, &db.dir, Some(&written.ca_cert))
            .spawn()
            .unwrap();
        let started = Instant::now();
        let id = loop {
            let page = console.products().await;
            if let Some(p) = page.products.iter().find(|p| p.status == "online") {
                break p.id.clone();
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "{}: the agent never came online: {page:?}",
                db.engine
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        let queued: serde_json::Value = console
            .http
            .post(format!("{}/api/v1/commands", node.url))
            .header("cookie", &console.cookie)
            .header("origin", &node.url)
            .json(&json!({"product_id": id, "kind": "ping"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let command = queued["id"].as_str().expect("a command id").to_owned();
        let started = Instant::now();
        loop {
            let c = console.command(&command).await;
            if c.state == "succeeded" {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "{}: the command stayed {}",
                db.engine,
                c.state
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        drop(running);
        node.stop().await;
    }
}
