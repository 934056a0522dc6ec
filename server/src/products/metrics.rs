//! What a node counts of its products' traffic, for `GET /metrics`.

use super::Products;

/// The products' series, in the Prometheus text format.
pub fn text(products: &Products) -> String {
    let mut out = String::from(
        "# HELP vigil_udp_datagrams_total Product datagrams received, by outcome.\n\
         # TYPE vigil_udp_datagrams_total counter\n",
    );
    for (reason, n) in products.udp.snapshot() {
        out.push_str(&format!(
            "vigil_udp_datagrams_total{{result=\"{reason}\"}} {n}\n"
        ));
    }
    out.push_str(&format!(
        "# HELP vigil_liveness_pending Products with proof of life not yet written.\n\
         # TYPE vigil_liveness_pending gauge\nvigil_liveness_pending {}\n",
        products.recorder.len()
    ));
    out.push_str(&format!(
        "# HELP vigil_product_key_lookups_total Product keys read from the database.\n\
         # TYPE vigil_product_key_lookups_total counter\nvigil_product_key_lookups_total {}\n",
        products
            .keys
            .lookups
            .load(std::sync::atomic::Ordering::Relaxed)
    ));
    if let Some(drops) = super::udp::kernel_drops(&products.udp_socket) {
        out.push_str(&format!(
            "# HELP vigil_udp_kernel_drops Datagrams the kernel dropped on the product socket (receive buffer full).\n\
             # TYPE vigil_udp_kernel_drops counter\nvigil_udp_kernel_drops {drops}\n"
        ));
    }
    out
}
