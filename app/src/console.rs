//! The frame around every signed-in page, and the keep-alive loop that tells
//! views when their data changed.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use gloo_timers::future::TimeoutFuture;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_query_map;

use crate::client::{self, ClientError};
use crate::params::ConsoleParams;
use crate::state::{StateClass, StateString};
use crate::time::format_utc;

/// How the console's node connection stands.
#[derive(Clone, Debug, PartialEq)]
pub enum Link {
    Connecting,
    Up { node: String, at: i64 },
    Down { since: i64, last_good: Option<i64> },
}

/// Shared by the views of a signed-in page.
#[derive(Clone, Copy)]
pub struct Console {
    state: RwSignal<Option<StateString>>,
    link: RwSignal<Link>,
}

impl Console {
    /// A value that changes whenever the counter of `class` changes; views
    /// refetch their data when it does.
    pub fn watch(self, class: StateClass) -> Memo<Option<i64>> {
        let state = self.state;
        Memo::new(move |_| state.with(|s| s.as_ref().and_then(|s| s.get(class))))
    }
}

/// Browser clock in Unix milliseconds.
fn now_ms() -> i64 {
    js_sys::Date::now() as i64
}

fn go_to_login() {
    if let Some(window) = web_sys::window() {
        let location = window.location();
        let here = format!(
            "{}{}",
            location.pathname().unwrap_or_default(),
            location.search().unwrap_or_default()
        );
        let next = js_sys::encode_uri_component(&here);
        let _ = location.set_href(&format!("/login?next={next}"));
    }
}

/// Sends keep-alives every `interval` seconds until the page goes away.
fn run_keepalive(console: Console, params: ConsoleParams, alive: Arc<AtomicBool>) {
    spawn_local(async move {
        let mut failures = 0;
        let mut last_good = None;
        while alive.load(Ordering::Relaxed) {
            match client::keepalive().await {
                Ok(reply) => {
                    failures = 0;
                    last_good = Some(now_ms());
                    if let Some(state) = StateString::parse(&reply.state) {
                        console.state.try_set(Some(state));
                    }
                    console.link.try_set(Link::Up {
                        node: reply.node,
                        at: reply.server_time,
                    });
                }
                Err(ClientError::Unauthorized) => return go_to_login(),
                Err(_) => {
                    failures += 1;
                    if failures == params.retry {
                        console.link.try_set(Link::Down {
                            since: now_ms(),
                            last_good,
                        });
                    }
                }
            }
            TimeoutFuture::new(params.interval_s * 1000).await;
        }
    });
}

/// Header, navigation and connection status around a signed-in page.
#[component]
pub fn ConsoleFrame(title: &'static str, children: Children) -> impl IntoView {
    let console = Console {
        state: RwSignal::new(None),
        link: RwSignal::new(Link::Connecting),
    };
    provide_context(console);
    let query = use_query_map();
    let params = ConsoleParams::from_lookup(|k| query.read_untracked().get(k));
    let alive = Arc::new(AtomicBool::new(true));
    on_cleanup({
        let alive = alive.clone();
        move || alive.store(false, Ordering::Relaxed)
    });
    Effect::new(move |started: Option<()>| {
        if started.is_none() {
            run_keepalive(console, params, alive.clone());
        }
    });
    view! {
        <header class="topbar">
            <a class="brand" href="/">"Vigil"</a>
            <nav aria-label="Main">
                <a href="/nodes">"Nodes"</a>
            </nav>
            <LinkStatus link=console.link/>
            <form method="post" action="/auth/logout">
                <button type="submit" class="quiet">"Sign out"</button>
            </form>
        </header>
        <main class="page">
            <h1>{title}</h1>
            {children()}
        </main>
    }
}

/// "Connected to …" or, at once when the node stops answering,
/// "Disconnected since …" with the time of the last good update.
#[component]
fn LinkStatus(link: RwSignal<Link>) -> impl IntoView {
    let text = move || match link.get() {
        Link::Connecting => ("connecting", "Connecting…".to_string()),
        Link::Up { node, at } => (
            "up",
            format!("Connected to {node} · updated {} UTC", format_utc(at)),
        ),
        Link::Down { since, last_good } => (
            "down",
            format!(
                "Disconnected since {} UTC · last good update {}",
                format_utc(since),
                last_good
                    .map(|t| format!("{} UTC", format_utc(t)))
                    .unwrap_or_else(|| "never".into())
            ),
        ),
    };
    view! {
        <p class=move || format!("link link-{}", text().0) role="status">{move || text().1}</p>
    }
}
