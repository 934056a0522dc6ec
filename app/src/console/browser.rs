//! The few browser facilities the console needs, in one place. Called only
//! from effects and the keep-alive loop, which never run on the node.

use crate::api::NodeSummary;
use crate::params::ConsoleParams;

const NODES_KEY: &str = "vigil.nodes";

/// Browser clock in Unix milliseconds.
pub fn now_ms() -> i64 {
    js_sys::Date::now() as i64
}

/// A random number in [0, 1).
pub fn random() -> f64 {
    js_sys::Math::random()
}

/// `http://host:port` of the page.
pub fn origin() -> String {
    web_sys::window()
        .and_then(|w| w.location().origin().ok())
        .unwrap_or_default()
}

/// Path and query of the page (`/nodes?interval=2`).
pub fn path_and_query() -> String {
    web_sys::window()
        .map(|w| {
            let l = w.location();
            format!(
                "{}{}",
                l.pathname().unwrap_or_default(),
                l.search().unwrap_or_default()
            )
        })
        .unwrap_or_else(|| "/".into())
}

/// Loads another page (full navigation).
pub fn go(url: &str) {
    if let Some(window) = web_sys::window() {
        let _ = window.location().set_href(url);
    }
}

/// To the login page, coming back here afterwards.
pub fn go_to_login() {
    let next = js_sys::encode_uri_component(&path_and_query());
    go(&format!("/login?next={next}"));
}

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok()?
}

/// The node list of the last good keep-alive, kept across page loads.
pub fn load_nodes() -> Vec<NodeSummary> {
    storage()
        .and_then(|s| s.get_item(NODES_KEY).ok().flatten())
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default()
}

pub fn save_nodes(nodes: &[NodeSummary]) {
    if let (Some(storage), Ok(text)) = (storage(), serde_json::to_string(nodes)) {
        let _ = storage.set_item(NODES_KEY, &text);
    }
}

/// The node's configured console defaults, from the page's
/// `<meta name="vigil-console-defaults">`.
pub fn console_defaults() -> ConsoleParams {
    web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| {
            d.query_selector("meta[name=vigil-console-defaults]")
                .ok()
                .flatten()
        })
        .and_then(|m| m.get_attribute("content"))
        .map(|query| ConsoleParams::from_query(&ConsoleParams::default(), &query))
        .unwrap_or_default()
}
