//! Alerts: the firings open now and the latest ones, live (a firing shows
//! and clears without a reload).

use leptos::prelude::*;

use super::live::{live, show};
use crate::api::content::Firing;
use crate::client::content as api;
use crate::console::ConsoleFrame;
use crate::state::StateClass;
use crate::time::format_utc;

#[component]
pub fn AlertsPage() -> impl IntoView {
    view! {
        <ConsoleFrame title="Alerts">
            <Firings/>
        </ConsoleFrame>
    }
}

#[component]
fn Firings() -> impl IntoView {
    let active = live(StateClass::Alerts, || api::firings(true));
    let history = live(StateClass::Alerts, || api::firings(false));
    view! {
        <h2>"Firing now"</h2>
        {show(active, "firings", |f| table(f, "Firing now", false))}
        <h2>"History"</h2>
        {show(history, "history", |f| table(f, "History", true))}
        <p class="muted">"Alerts are made and enabled on the Content page."</p>
    }
}

fn table(firings: Vec<Firing>, label: &'static str, cleared: bool) -> impl IntoView {
    if firings.is_empty() {
        return view! { <p class="muted">"None."</p> }.into_any();
    }
    view! {
        <table class="grid" aria-label=label>
            <thead><tr>
                <th scope="col">"Alert"</th><th scope="col">"Key"</th><th scope="col">"Severity"</th>
                <th scope="col">"Rows"</th><th scope="col">"Since (UTC)"</th>
                {cleared.then(|| view! { <th scope="col">"Cleared (UTC)"</th> })}
                <th scope="col">"Node"</th>
            </tr></thead>
            <tbody>
                {firings.into_iter().map(|f| view! {
                    <tr>
                        <th scope="row">{f.alert.clone()}</th>
                        <td>{if f.key.is_empty() { "—".to_string() } else { f.key.clone() }}</td>
                        <td><span class=if f.severity == "critical" { "badge bad" } else { "badge" }>{f.severity.clone()}</span></td>
                        <td>{f.matched}</td>
                        <td>{format_utc(f.started_at)}</td>
                        {cleared.then(|| view! { <td>{f.cleared_at.map(format_utc).unwrap_or_else(|| "open".into())}</td> })}
                        <td>{f.node.clone()}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}
