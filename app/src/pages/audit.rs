//! The audit trail, for admins: who did what, from where, on which node,
//! and how it ended. Filters are kept in the URL; the CSV link downloads
//! what the filters select. Refreshes live when the audit counter moves.

use leptos::prelude::*;

use super::filters::{from_query, keep_in_url, text_filter};
use super::live::{live, page_summary, pager, show};
use crate::api::AuditPage;
use crate::client;
use crate::console::ConsoleFrame;
use crate::params::encode;
use crate::state::StateClass;
use crate::time::format_utc;

const PAGE: i64 = 100;

#[component]
pub fn AuditPage() -> impl IntoView {
    view! {
        <ConsoleFrame title="Audit">
            <AuditTable/>
        </ConsoleFrame>
    }
}

#[component]
fn AuditTable() -> impl IntoView {
    let (actor, action, outcome, target) = (
        from_query("actor"),
        from_query("action"),
        from_query("outcome"),
        from_query("target"),
    );
    keep_in_url(vec![
        ("actor", actor),
        ("action", action),
        ("outcome", outcome),
        ("target", target),
    ]);
    let offset = RwSignal::new(0i64);
    let query = move || {
        [
            ("actor", actor.get()),
            ("action", action.get()),
            ("outcome", outcome.get()),
            ("target", target.get()),
        ]
        .into_iter()
        .filter(|(_, v)| !v.trim().is_empty())
        .map(|(k, v)| format!("{k}={}", encode(v.trim())))
        .collect::<Vec<_>>()
        .join("&")
    };
    let page = live(StateClass::Audit, move || {
        let q = format!("{}&limit={PAGE}&offset={}", query(), offset.get());
        async move { client::audit(&q).await }
    });
    view! {
        <div class="toolbar">
            {text_filter("Actor", "user name", actor, offset)}
            {text_filter("Action", "e.g. token. or user.create", action, offset)}
            {text_filter("Target", "part of the path", target, offset)}
            <label class="inline">
                "Outcome"
                <select prop:value=move || outcome.get()
                    on:change=move |ev| { outcome.set(event_target_value(&ev)); offset.set(0); }>
                    <option value="">"All"</option>
                    <option value="ok">"ok"</option>
                    <option value="refused">"refused"</option>
                    <option value="failed">"failed"</option>
                </select>
            </label>
            <a class="button" href=move || format!("/api/v1/audit?format=csv&{}", query()) download="audit.csv">
                "Download CSV"
            </a>
        </div>
        {show(page, "the audit trail", move |p: AuditPage| table(p, offset))}
    }
}

fn table(p: AuditPage, offset: RwSignal<i64>) -> impl IntoView {
    let start = offset.get_untracked();
    let shown = p.entries.len() as i64;
    let total = p.total;
    view! {
        <p class="summary" role="status" aria-live="polite">{page_summary(start, shown, total, "record")}</p>
        <table class="grid" aria-label="Audit trail">
            <thead>
                <tr>
                    <th scope="col">"When (UTC)"</th>
                    <th scope="col">"Actor"</th>
                    <th scope="col">"Via"</th>
                    <th scope="col">"Action"</th>
                    <th scope="col">"Target"</th>
                    <th scope="col">"Outcome"</th>
                    <th scope="col">"Client"</th>
                    <th scope="col">"Node"</th>
                </tr>
            </thead>
            <tbody>
                {p.entries.into_iter().map(|e| {
                    let class = match e.outcome.as_str() {
                        "ok" => "badge ok",
                        _ => "badge bad",
                    };
                    view! {
                        <tr>
                            <td>{format_utc(e.at)}</td>
                            <td>{if e.actor.is_empty() { "—".to_owned() } else { e.actor }}</td>
                            <td>{e.via}</td>
                            <td><code>{e.action}</code></td>
                            <td>{e.target}</td>
                            <td><span class=class>{format!("{} ({})", e.outcome, e.status)}</span></td>
                            <td>{e.client}</td>
                            <td>{e.node}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
        {pager(offset, shown, total, PAGE)}
    }
}
