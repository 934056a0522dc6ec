//! HTTPS: the node serves TLS itself (rustls) with the certificate chain
//! and key named by `tls_cert` and `tls_key`. Both files are read at start,
//! where a bad one stops the node, and again on SIGHUP, where a bad one is
//! logged and the certificate in use stays: a renewal never takes a node
//! down, and connections already open keep theirs.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;

/// The node's certificate in use, and what became of its handshakes.
pub struct Tls {
    cert: PathBuf,
    key: PathBuf,
    current: RwLock<TlsAcceptor>,
    /// Handshakes that failed or timed out.
    pub handshake_failures: AtomicU64,
    /// Successful reloads since the start.
    pub reloads: AtomicU64,
}

impl Tls {
    /// Reads the certificate chain and key; the error names the bad file.
    pub fn load(cert: &Path, key: &Path) -> Result<Arc<Self>, anyhow::Error> {
        let acceptor = acceptor(cert, key)?;
        Ok(Arc::new(Self {
            cert: cert.to_owned(),
            key: key.to_owned(),
            current: RwLock::new(acceptor),
            handshake_failures: AtomicU64::new(0),
            reloads: AtomicU64::new(0),
        }))
    }

    /// Reads both files again; new connections get the new certificate.
    /// On error the one in use stays.
    pub fn reload(&self) -> Result<(), anyhow::Error> {
        let fresh = acceptor(&self.cert, &self.key)?;
        *self.current.write().expect("tls lock") = fresh;
        self.reloads.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// What accepts the next connection.
    pub fn acceptor(&self) -> TlsAcceptor {
        self.current.read().expect("tls lock").clone()
    }

    /// The counters in the Prometheus text format.
    pub fn metrics_text(&self) -> String {
        format!(
            "# HELP vigil_tls_handshake_failures_total TLS handshakes that failed or timed out.\n\
             # TYPE vigil_tls_handshake_failures_total counter\nvigil_tls_handshake_failures_total {}\n\
             # HELP vigil_tls_reloads_total Certificate reloads (SIGHUP) that took effect.\n\
             # TYPE vigil_tls_reloads_total counter\nvigil_tls_reloads_total {}\n",
            self.handshake_failures.load(Ordering::Relaxed),
            self.reloads.load(Ordering::Relaxed),
        )
    }

    /// Reloads on every SIGHUP, for the life of the process.
    pub async fn reload_on_hangup(self: Arc<Self>) {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let Ok(mut hangups) = signal(SignalKind::hangup()) else {
                tracing::warn!("cannot listen for SIGHUP: certificates reload only on restart");
                return;
            };
            while hangups.recv().await.is_some() {
                match self.reload() {
                    Ok(()) => tracing::info!(cert = %self.cert.display(), "certificate reloaded"),
                    Err(e) => {
                        tracing::error!(error = %e, "certificate not reloaded; the one in use stays")
                    }
                }
            }
        }
    }
}

fn acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor, anyhow::Error> {
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| anyhow::anyhow!("tls_cert {}: {e}", cert.display()))?;
    if chain.is_empty() {
        anyhow::bail!("tls_cert {}: no certificate in the file", cert.display());
    }
    let private = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| anyhow::anyhow!("tls_key {}: {e}", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| anyhow::anyhow!("TLS: {e}"))?
        .with_no_client_auth()
        .with_single_cert(chain, private)
        .map_err(|e| {
            anyhow::anyhow!(
                "tls_cert {} and tls_key {}: {e}",
                cert.display(),
                key.display()
            )
        })?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// The routes of the plain-HTTP listener (`redirect_listen`): every request
/// is answered with a permanent redirect to HTTPS (308 keeps the method and
/// body, so a product posting a heartbeat there follows it).
pub fn redirect_router(https_base: Option<String>, https_port: u16) -> axum::Router {
    use axum::http::{header, HeaderMap, StatusCode, Uri};
    use axum::response::IntoResponse;
    axum::Router::new().fallback(move |headers: HeaderMap, uri: Uri| {
        let https_base = https_base.clone();
        async move {
            let path = uri.path_and_query().map_or("/", |p| p.as_str());
            let host = headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .or(uri.authority().map(|a| a.as_str()));
            match redirect_target(https_base.as_deref(), https_port, host, path) {
                Some(to) => {
                    (StatusCode::PERMANENT_REDIRECT, [(header::LOCATION, to)]).into_response()
                }
                None => crate::error::ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "https_required",
                    "this address only redirects to HTTPS, and the request named no host",
                )
                .into_response(),
            }
        }
    })
}

/// The plain-HTTP redirect listener's answer: 308 to the same path on
/// `https_base` (the node's public HTTPS URL), or, when the node has none,
/// on the host the client asked for with the HTTPS port.
pub fn redirect_target(
    https_base: Option<&str>,
    https_port: u16,
    host: Option<&str>,
    path_and_query: &str,
) -> Option<String> {
    if let Some(base) = https_base {
        return Some(format!("{}{path_and_query}", base.trim_end_matches('/')));
    }
    let host = host?;
    // Only a host name or address, never a user part or a path.
    let authority: axum::http::uri::Authority = host.parse().ok()?;
    if host.contains('@') {
        return None;
    }
    let name = authority.host();
    Some(format!("https://{name}:{https_port}{path_and_query}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects_keep_the_path_and_use_the_https_port() {
        assert_eq!(
            redirect_target(None, 8443, Some("vigil.example:8080"), "/products?x=1").as_deref(),
            Some("https://vigil.example:8443/products?x=1")
        );
        assert_eq!(
            redirect_target(None, 443, Some("[::1]:80"), "/").as_deref(),
            Some("https://[::1]:443/")
        );
        assert_eq!(
            redirect_target(Some("https://n1.example/"), 8443, Some("evil"), "/a").as_deref(),
            Some("https://n1.example/a")
        );
        assert_eq!(redirect_target(None, 443, None, "/"), None);
        assert_eq!(redirect_target(None, 443, Some("a@b"), "/"), None);
        assert_eq!(redirect_target(None, 443, Some("a/b"), "/"), None);
    }

    #[test]
    fn a_missing_or_bad_file_is_named() {
        let dir = std::env::temp_dir().join(format!("vigil-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let cert = dir.join("c.pem");
        let key = dir.join("k.pem");
        let e = Tls::load(&cert, &key).err().unwrap().to_string();
        assert!(e.contains("tls_cert") && e.contains("c.pem"), "{e}");
        std::fs::write(&cert, "not a certificate").unwrap();
        let e = Tls::load(&cert, &key).err().unwrap().to_string();
        assert!(e.contains("no certificate"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
