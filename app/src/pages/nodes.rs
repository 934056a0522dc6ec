//! The cluster dashboard: every node, its role and whether it is operational.
//! Refreshes itself when the nodes counter of the state string moves.

use leptos::prelude::*;

use super::centralization::CentralizationPanel;
use super::live::{live, show};
use crate::api::{NodeDetail, NodeList};
use crate::client;
use crate::console::ConsoleFrame;
use crate::state::StateClass;
use crate::time::{ago, format_utc};

#[component]
pub fn NodesPage() -> impl IntoView {
    view! {
        <ConsoleFrame title="Nodes">
            <CentralizationPanel/>
            <NodeTable/>
        </ConsoleFrame>
    }
}

#[component]
fn NodeTable() -> impl IntoView {
    let nodes = live(StateClass::Nodes, client::nodes);
    // The filter lives outside the refreshed table, so what the user typed
    // survives every refresh.
    let filter = RwSignal::new(String::new());
    view! {
        <div class="toolbar">
            <label class="inline">
                "Filter"
                <input
                    type="search"
                    placeholder="node name or URL"
                    prop:value=move || filter.get()
                    on:input=move |ev| filter.set(event_target_value(&ev))
                />
            </label>
        </div>
        {show(nodes, "nodes", move |list| node_table(list, &filter.read()))}
    }
}

fn node_table(list: NodeList, filter: &str) -> impl IntoView {
    let now = list.server_time;
    let operational = list.nodes.iter().filter(|n| n.operational).count();
    let total = list.nodes.len();
    let this = list.node.clone();
    let needle = filter.trim().to_ascii_lowercase();
    let shown: Vec<NodeDetail> = list
        .nodes
        .into_iter()
        .filter(|n| {
            needle.is_empty()
                || n.name.to_ascii_lowercase().contains(&needle)
                || n.url.to_ascii_lowercase().contains(&needle)
        })
        .collect();
    view! {
        <p class="summary">{format!("{operational} of {total} node(s) operational")}</p>
        <table class="grid">
            <thead>
                <tr>
                    <th scope="col">"Node"</th>
                    <th scope="col">"URL"</th>
                    <th scope="col">"Role"</th>
                    <th scope="col">"Status"</th>
                    <th scope="col">"Started (UTC)"</th>
                    <th scope="col">"Last seen"</th>
                </tr>
            </thead>
            <tbody>
                {shown.into_iter().map(|n| node_row(n, &this, now)).collect_view()}
            </tbody>
        </table>
    }
}

fn node_row(n: NodeDetail, this: &str, now: i64) -> impl IntoView {
    let here = (n.name == this).then(|| view! { <span class="tag">"this node"</span> });
    let (class, status) = if n.operational {
        ("badge ok", "Operational")
    } else {
        ("badge bad", "Non-operational")
    };
    view! {
        <tr>
            <th scope="row">{n.name.clone()} " " {here}</th>
            <td><a href=n.url.clone()>{n.url.clone()}</a></td>
            <td>{n.role.to_string()}</td>
            <td><span class=class>{status}</span></td>
            <td>{format_utc(n.started_at)}</td>
            <td>{ago(now, n.last_seen)}</td>
        </tr>
    }
}
