//! Content: the user's folders of investigations and one-click
//! investigations beside the Global tree, an editor that checks the query
//! as it is typed, and the rows it finds.

mod editor;
pub mod results;
mod tree;

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::content::{AlertSpec, Folder, ItemKind, Scope, Trees};
use crate::api::NodeList;
use crate::client::content as api;
use crate::client::ClientError;
use crate::console::{go_to_login, ConsoleFrame};
use crate::pages::live::{live, live_on, Live};
use crate::state::StateClass;
use results::{Results, RunSpec};

#[component]
pub fn ContentPage() -> impl IntoView {
    view! {
        <ConsoleFrame title="Content">
            <Workspace/>
        </ConsoleFrame>
    }
}

/// What the page's parts share.
#[derive(Clone, Copy)]
pub struct Workbench {
    pub trees: Live<Trees>,
    /// The saved item in the editor, if any.
    pub open: RwSignal<Option<String>>,
    pub name: RwSignal<String>,
    pub kind: RwSignal<ItemKind>,
    /// Where the item is saved: `mine:` or `global:`, then a folder id.
    pub place: RwSignal<String>,
    pub text: RwSignal<String>,
    /// An alert's settings, as the editor shows them.
    pub alert: RwSignal<AlertSpec>,
    /// The cluster's nodes (alerts are enabled per node).
    pub nodes: Live<NodeList>,
    pub message: RwSignal<Option<String>>,
    pub run: RwSignal<Option<RunSpec>>,
    nonce: StoredValue<u32>,
}

impl Workbench {
    /// Runs `spec` (again, even if it is the one shown).
    pub fn run(self, mut spec: RunSpec) {
        let n = self.nonce.get_value() + 1;
        self.nonce.set_value(n);
        spec.nonce = n;
        self.run.set(Some(spec));
    }

    /// Runs a call; shows `done` or the refusal. The trees refresh by
    /// themselves (the content counter moves).
    pub fn act<T: 'static>(
        self,
        call: impl std::future::Future<Output = Result<T, ClientError>> + 'static,
        done: impl FnOnce(T) -> String + 'static,
    ) {
        spawn_local(async move {
            match call.await {
                Ok(value) => self.message.set(Some(done(value))),
                Err(ClientError::Unauthorized) => go_to_login(),
                Err(e) => self.message.set(Some(format!("Refused: {e}"))),
            }
        });
    }
}

/// The settings a new alert starts with.
pub fn new_alert_spec() -> AlertSpec {
    AlertSpec {
        condition: "rows > 0".into(),
        period: "1m".into(),
        for_: "0s".into(),
        clear_for: "0s".into(),
        severity: Default::default(),
        scope: Default::default(),
        webhooks: Vec::new(),
    }
}

/// `mine:` / `global:` and a folder id, as the place selects write it.
pub fn place(scope: Scope, folder: Option<&str>) -> String {
    let scope = match scope {
        Scope::Mine => "mine",
        Scope::Global => "global",
    };
    format!("{scope}:{}", folder.unwrap_or(""))
}

/// The scope and folder of a place.
pub fn parse_place(place: &str) -> (Scope, Option<String>) {
    let (scope, folder) = place.split_once(':').unwrap_or(("mine", ""));
    let scope = if scope == "global" {
        Scope::Global
    } else {
        Scope::Mine
    };
    (scope, Some(folder.to_string()).filter(|f| !f.is_empty()))
}

/// Every folder of one tree with its path (`Ops / Web`), by path.
pub fn paths(folders: &[Folder], scope: Scope) -> Vec<(String, String)> {
    let of_scope: Vec<&Folder> = folders.iter().filter(|f| f.scope == scope).collect();
    let path = |f: &Folder| {
        let mut parts = vec![f.name.clone()];
        let mut parent = f.parent.clone();
        while let Some(p) = parent {
            match of_scope.iter().find(|g| g.id == p) {
                Some(g) if parts.len() < 32 => {
                    parts.push(g.name.clone());
                    parent = g.parent.clone();
                }
                _ => break,
            }
        }
        parts.reverse();
        parts.join(" / ")
    };
    let mut out: Vec<(String, String)> = of_scope.iter().map(|f| (f.id.clone(), path(f))).collect();
    out.sort_by(|a, b| a.1.cmp(&b.1));
    out
}

#[component]
fn Workspace() -> impl IntoView {
    let bench = Workbench {
        // Trees show where alerts are enabled, too.
        trees: live_on(&[StateClass::Content, StateClass::Alerts], api::trees),
        open: RwSignal::new(None),
        name: RwSignal::new(String::new()),
        kind: RwSignal::new(ItemKind::Investigation),
        place: RwSignal::new("mine:".into()),
        text: RwSignal::new(String::new()),
        alert: RwSignal::new(new_alert_spec()),
        nodes: live(StateClass::Nodes, crate::client::nodes),
        message: RwSignal::new(None),
        run: RwSignal::new(None),
        nonce: StoredValue::new(0),
    };
    provide_context(bench);
    view! {
        {move || bench.message.get().map(|m| view! { <p role="status" class="summary">{m}</p> })}
        <div class="content-layout">
            <section class="card trees" aria-label="Content trees">
                <tree::TreeView scope=Scope::Mine/>
                <tree::TreeView scope=Scope::Global/>
            </section>
            <section class="card editor" aria-label="Editor">
                <editor::Editor/>
            </section>
        </div>
        <h2>"Results"</h2>
        <Results spec=Signal::derive(move || bench.run.get())/>
    }
}
