//! `GET /metrics`: what a node counts of its products' traffic (and of its
//! HTTP connections), in the Prometheus text format.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use crate::AppState;

/// `GET /metrics`: Prometheus text format.
pub async fn metrics(State(app): State<AppState>) -> impl IntoResponse {
    let mut out = String::from(
        "# HELP vigil_udp_datagrams_total Product datagrams received, by outcome.\n\
         # TYPE vigil_udp_datagrams_total counter\n",
    );
    for (reason, n) in app.products.udp.snapshot() {
        out.push_str(&format!(
            "vigil_udp_datagrams_total{{result=\"{reason}\"}} {n}\n"
        ));
    }
    out.push_str(&format!(
        "# HELP vigil_liveness_pending Products with proof of life not yet written.\n\
         # TYPE vigil_liveness_pending gauge\nvigil_liveness_pending {}\n",
        app.products.recorder.len()
    ));
    out.push_str(&format!(
        "# HELP vigil_product_key_lookups_total Product keys read from the database.\n\
         # TYPE vigil_product_key_lookups_total counter\nvigil_product_key_lookups_total {}\n",
        app.products
            .keys
            .lookups
            .load(std::sync::atomic::Ordering::Relaxed)
    ));
    if let Some(drops) = super::udp::kernel_drops(&app.products.udp_socket) {
        out.push_str(&format!(
            "# HELP vigil_udp_kernel_drops Datagrams the kernel dropped on the product socket (receive buffer full).\n\
             # TYPE vigil_udp_kernel_drops counter\nvigil_udp_kernel_drops {drops}\n"
        ));
    }
    out.push_str(&app.connections.metrics_text());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out)
}
