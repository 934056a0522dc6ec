//! A certificate authority made by a test, and the node certificates it
//! signs: for HTTPS tests that must not depend on anything installed.

use std::path::{Path, PathBuf};

use base64::Engine;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
use sha2::{Digest, Sha256};

/// A throwaway CA.
pub struct TestCa {
    cert: rcgen::Certificate,
    key: KeyPair,
}

/// A certificate signed by a [`TestCa`], in PEM.
pub struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
    /// Base64 SHA-256 of the certificate's public key (SubjectPublicKeyInfo),
    /// as Chromium's `--ignore-certificate-errors-spki-list` takes it.
    pub spki_sha256: String,
}

/// Where [`TestCa::write`] put its files.
pub struct Written {
    pub ca_cert: PathBuf,
    /// The node's certificate followed by the CA's (the chain it serves).
    pub cert: PathBuf,
    pub key: PathBuf,
    /// The node certificate's public key hash (see [`Issued::spki_sha256`]).
    pub spki_sha256: String,
    /// The CA's public key hash.
    pub ca_spki_sha256: String,
}

impl Issued {
    /// Writes `<stem>.pem` and `<stem>.key` into `dir`; returns their paths.
    pub fn write(&self, dir: &Path, stem: &str) -> std::io::Result<(PathBuf, PathBuf)> {
        std::fs::create_dir_all(dir)?;
        let (cert, key) = (
            dir.join(format!("{stem}.pem")),
            dir.join(format!("{stem}.key")),
        );
        std::fs::write(&cert, &self.cert_pem)?;
        std::fs::write(&key, &self.key_pem)?;
        Ok((cert, key))
    }
}

/// Serves `router` over HTTPS on a free loopback port with `issued` (its
/// files go to `dir`), with the node's own accept loop; returns the port.
/// It serves until the test's runtime ends.
pub async fn serve_https(router: axum::Router, dir: &Path, issued: &Issued) -> u16 {
    let (cert, key) = issued
        .write(dir, "https-server")
        .expect("write the certificate");
    let tls = server::tls::Tls::load(&cert, &key).expect("load the certificate");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("address").port();
    let limits = server::listener::Limits {
        max_connections: 100,
        header_timeout: std::time::Duration::from_secs(5),
        idle_timeout: std::time::Duration::from_secs(30),
    };
    tokio::spawn(server::listener::serve(
        listener,
        router,
        limits,
        Default::default(),
        Some(tls),
        std::future::pending(),
    ));
    port
}

impl TestCa {
    /// A new CA with a fresh key.
    pub fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().expect("CA key");
        let cert = params.self_signed(&key).expect("CA certificate");
        Self { cert, key }
    }

    /// The CA's certificate in PEM (what a client trusts).
    pub fn cert_pem(&self) -> String {
        self.cert.pem()
    }

    /// Base64 SHA-256 of the CA's public key.
    pub fn spki_sha256(&self) -> String {
        spki_hash(&self.key)
    }

    /// A server certificate for `names` (host names or IP addresses).
    pub fn issue(&self, names: &[&str]) -> Issued {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names.clone()).expect("server params");
        params.distinguished_name.push(
            DnType::CommonName,
            names.first().cloned().unwrap_or_default(),
        );
        let key = KeyPair::generate().expect("server key");
        let cert = params
            .signed_by(&key, &self.cert, &self.key)
            .expect("server certificate");
        Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            spki_sha256: spki_hash(&key),
        }
    }

    /// Writes `ca.pem`, and `node.pem` (the chain: the node's certificate,
    /// then the CA's) / `node.key` for `names`, into `dir`.
    pub fn write(&self, dir: &Path, names: &[&str]) -> std::io::Result<Written> {
        std::fs::create_dir_all(dir)?;
        let issued = self.issue(names);
        let written = Written {
            ca_cert: dir.join("ca.pem"),
            cert: dir.join("node.pem"),
            key: dir.join("node.key"),
            spki_sha256: issued.spki_sha256,
            ca_spki_sha256: self.spki_sha256(),
        };
        std::fs::write(&written.ca_cert, self.cert_pem())?;
        std::fs::write(&written.cert, issued.cert_pem + &self.cert_pem())?;
        std::fs::write(&written.key, issued.key_pem)?;
        Ok(written)
    }
}

fn spki_hash(key: &KeyPair) -> String {
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(key.public_key_der()))
}
