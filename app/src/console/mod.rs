//! The frame around every signed-in page: navigation, the connection status,
//! and the keep-alive loop that tells views when their data changed and
//! moves the browser to a healthy node when this one dies.

mod browser;
mod keepalive;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_query_map;

use crate::api::NodeRole;
use crate::params::ConsoleParams;
use crate::state::{StateClass, StateString};
use crate::time::format_utc;

pub use browser::go_to_login;

/// The node's configured console defaults, provided while rendering on the
/// node (the browser reads them from the page's meta tag).
#[derive(Clone, Debug)]
pub struct ConsoleDefaults(pub ConsoleParams);

/// How the console's link to its node stands.
#[derive(Clone, Debug, PartialEq)]
pub enum Link {
    Off(&'static str),
    Connecting,
    Up {
        node: String,
        at: i64,
    },
    /// The node answers, but it cannot reach the database: what the
    /// console shows may be out of date, and no other node would do better.
    NoDatabase {
        node: String,
        since: i64,
    },
    /// Keep-alives fail; not yet `retry` of them.
    Trouble {
        node: Option<String>,
        since: i64,
        last_good: Option<i64>,
        failures: u32,
    },
    /// Declared dead: failing over (`auto`) or waiting for the user.
    Down {
        since: i64,
        last_good: Option<i64>,
        auto: bool,
    },
}

/// A node the user may move to when `auto` is off.
#[derive(Clone, Debug, PartialEq)]
pub struct Choice {
    pub name: String,
    pub url: String,
    pub role: NodeRole,
    /// Where the link goes (hand-off included).
    pub target: String,
}

/// Shared by the views of a signed-in page.
#[derive(Clone, Copy)]
pub struct Console {
    state: RwSignal<Option<StateString>>,
    link: RwSignal<Link>,
    choices: RwSignal<Option<Vec<Choice>>>,
    /// The console parameters: the URL query over the node's defaults.
    pub params: Memo<ConsoleParams>,
    defaults: StoredValue<ConsoleParams>,
}

impl Console {
    /// A value that changes whenever the counter of `class` changes (if the
    /// console watches that position); views refetch when it does.
    pub fn watch(self, class: StateClass) -> Memo<Option<i64>> {
        let (state, params) = (self.state, self.params);
        Memo::new(move |_| {
            if !params.with(|p| p.states.contains(class.position())) {
                return None;
            }
            state.with(|s| s.as_ref().and_then(|s| s.get(class)))
        })
    }

    /// The node's defaults, against which the URL only records differences.
    pub fn defaults(self) -> ConsoleParams {
        self.defaults.get_value()
    }

    /// `path` with the console parameters of this page, so links keep the
    /// behaviour the user chose.
    pub fn href(self, path: &str) -> String {
        let query = self
            .params
            .with(|p| p.merge_into("", &self.defaults.get_value()));
        if query.is_empty() {
            path.to_owned()
        } else {
            format!("{path}?{query}")
        }
    }
}

fn configured_defaults() -> ConsoleParams {
    if let Some(ConsoleDefaults(defaults)) = use_context() {
        return defaults;
    }
    // Only the browser has the page to read them from.
    if cfg!(feature = "hydrate") {
        browser::console_defaults()
    } else {
        ConsoleParams::default()
    }
}

/// Header, navigation and connection status around a signed-in page.
#[component]
pub fn ConsoleFrame(title: &'static str, children: Children) -> impl IntoView {
    let defaults = configured_defaults();
    let query = use_query_map();
    let params = Memo::new({
        let defaults = defaults.clone();
        move |_| ConsoleParams::from_lookup(&defaults, |k| query.read().get(k))
    });
    let console = Console {
        state: RwSignal::new(None),
        link: RwSignal::new(Link::Connecting),
        choices: RwSignal::new(None),
        params,
        defaults: StoredValue::new(defaults),
    };
    provide_context(console);
    start_when_running(console);
    view! {
        <header class="topbar">
            <a class="brand" href=move || console.href("/")>"Vigil"</a>
            <nav aria-label="Main">
                <a href=move || console.href("/")>"Fleet"</a>
                <a href=move || console.href("/products")>"Products"</a>
                <a href=move || console.href("/commands")>"Commands"</a>
                <a href=move || console.href("/content")>"Content"</a>
                <a href=move || console.href("/alerts")>"Alerts"</a>
                <a href=move || console.href("/nodes")>"Nodes"</a>
                <a href=move || console.href("/users")>"Users"</a>
                <a href=move || console.href("/audit")>"Audit"</a>
                <a href=move || console.href("/settings")>"Settings"</a>
            </nav>
            <LinkStatus link=console.link/>
            <form method="post" action="/auth/logout">
                <button type="submit" class="quiet">"Sign out"</button>
            </form>
        </header>
        <NodeChooser choices=console.choices/>
        <main class="page">
            <h1>{title}</h1>
            {children()}
        </main>
    }
}

/// Starts the keep-alive loop while `run` is on, stops it when it turns off
/// or the page goes away.
fn start_when_running(console: Console) {
    let current: StoredValue<Option<Arc<AtomicBool>>> = StoredValue::new(None);
    let stop = move || {
        if let Some(alive) = current.try_update_value(|c| c.take()).flatten() {
            alive.store(false, Ordering::Relaxed);
        }
    };
    on_cleanup(stop);
    let run = Memo::new(move |_| console.params.with(|p| p.run));
    Effect::new(move |_| {
        if run.get() {
            let alive = Arc::new(AtomicBool::new(true));
            current.set_value(Some(alive.clone()));
            spawn_local(keepalive::run(console, alive));
        } else {
            stop();
            console.link.set(Link::Off("Keep-alive off (run=0)"));
        }
    });
}

/// "Connected to …"; at once when the node stops answering, since when and
/// the time of the last good update.
#[component]
fn LinkStatus(link: RwSignal<Link>) -> impl IntoView {
    let last = |t: Option<i64>| {
        t.map(|t| format!("{} UTC", format_utc(t)))
            .unwrap_or_else(|| "never".into())
    };
    let text = move || {
        match link.get() {
        Link::Off(why) => ("off", why.to_string()),
        Link::Connecting => ("connecting", "Connecting…".to_string()),
        Link::Up { node, at } => (
            "up",
            format!("Connected to {node} · updated {} UTC", format_utc(at)),
        ),
        Link::NoDatabase { node, since } => (
            "degraded",
            format!(
                "Connected to {node} · the database has not answered since {} UTC; what you see may be out of date",
                format_utc(since)
            ),
        ),
        Link::Trouble {
            node,
            since,
            last_good,
            failures,
        } => (
            "down",
            format!(
                "{} not answering since {} UTC ({failures} failed) · last good update {}",
                node.as_deref().unwrap_or("Node"),
                format_utc(since),
                last(last_good)
            ),
        ),
        Link::Down {
            since,
            last_good,
            auto,
        } => (
            "down",
            format!(
                "Disconnected since {} UTC · last good update {}{}",
                format_utc(since),
                last(last_good),
                if auto {
                    " · looking for another node…"
                } else {
                    ""
                }
            ),
        ),
    }
    };
    view! {
        <p class=move || format!("link link-{}", text().0) role="status">{move || text().1}</p>
    }
}

/// With `auto` off, the user picks the node to move to.
#[component]
fn NodeChooser(choices: RwSignal<Option<Vec<Choice>>>) -> impl IntoView {
    move || {
        choices.get().map(|list| {
            let empty = list.is_empty();
            view! {
                <div class="overlay">
                    <div class="card chooser" role="dialog" aria-modal="true" aria-labelledby="chooser-title">
                        <h2 id="chooser-title">"This node stopped answering"</h2>
                        <p>"Choose another node of the cluster to continue on:"</p>
                        <ul>
                            {list
                                .into_iter()
                                .map(|c| {
                                    view! {
                                        <li>
                                            <a class="button" href=c.target>{c.url.clone()}</a>
                                            " " <span class="muted">{format!("{} · {}", c.name, c.role)}</span>
                                        </li>
                                    }
                                })
                                .collect_view()}
                        </ul>
                        {empty.then(|| view! { <p class="muted">"No other operational node is known. Waiting for this one to come back…"</p> })}
                    </div>
                </div>
            }
        })
    }
}
