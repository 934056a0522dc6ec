//! Centralization on the Nodes page: the status line (nodes still pending,
//! or those whose run failed, with Retry), a progress bar while a source
//! runs, and each source's plan (the dry run made before anything was
//! written) and report. Live on the centralization counter.

use leptos::prelude::*;
use leptos::task::spawn_local;

use super::live::live;
use crate::api::centralize::{Centralization, Outcome, Source};
use crate::client;
use crate::state::StateClass;
use crate::time::format_utc;

#[component]
pub fn CentralizationPanel() -> impl IntoView {
    let data = live(StateClass::Centralization, client::centralization);
    let failure = RwSignal::new(None::<String>);
    move || match data.get() {
        Some(Ok(c)) if !c.sources.is_empty() => panel(c, failure).into_any(),
        Some(Err(e)) => view! { <p class="error" role="alert">{e}</p> }.into_any(),
        _ => ().into_any(),
    }
}

fn panel(c: Centralization, failure: RwSignal<Option<String>>) -> impl IntoView {
    let line = c.status_line();
    let failed = line
        .as_deref()
        .is_some_and(|l| l.starts_with("Content centralization failed"));
    let retry_buttons = (failed && c.can_retry).then(|| {
        c.sources
            .iter()
            .filter(|s| s.status == "failed")
            .map(|s| retry_button(s.node.clone(), failure))
            .collect_view()
    });
    let running = c
        .sources
        .iter()
        .find(|s| s.status == "running")
        .map(progress);
    view! {
        <section class="card centralization" aria-labelledby="centralization-title">
            <h2 id="centralization-title">"Centralization"</h2>
            {line.map(|l| {
                let class = if failed { "status-line error" } else { "status-line" };
                view! { <p class=class role="status">{l}</p> }
            })}
            {retry_buttons}
            {move || failure.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
            {running}
            <table class="grid sources">
                <thead>
                    <tr>
                        <th scope="col">"Node"</th>
                        <th scope="col">"Status"</th>
                        <th scope="col">"Records"</th>
                        <th scope="col">"Connected (UTC)"</th>
                        <th scope="col">"Finished (UTC)"</th>
                        <th scope="col">"Error"</th>
                    </tr>
                </thead>
                <tbody>{c.sources.iter().map(source_row).collect_view()}</tbody>
            </table>
            {c.sources.iter().map(plans).collect_view()}
        </section>
    }
}

fn retry_button(node: String, failure: RwSignal<Option<String>>) -> impl IntoView {
    let label = format!("Retry centralization of {node}");
    let retry = move |_| {
        let node = node.clone();
        failure.set(None);
        spawn_local(async move {
            if let Err(e) = client::retry_centralization(&node).await {
                failure.set(Some(e.to_string()));
            }
        });
    };
    view! {
        <button type="button" aria-label=label.clone() title=label on:click=retry>
            "Retry"
        </button>
    }
}

fn progress(s: &Source) -> impl IntoView {
    let label = format!("Centralizing {}", s.node);
    view! {
        <p class="progress">
            <progress max=s.total.max(1) value=s.done aria-label=label.clone()></progress>
            " "
            {format!("{label}: {} of {} records", s.done, s.total)}
        </p>
    }
}

fn source_row(s: &Source) -> impl IntoView {
    let class = match s.status.as_str() {
        "done" => "badge ok",
        "failed" => "badge bad",
        _ => "badge",
    };
    view! {
        <tr>
            <th scope="row">{s.node.clone()}</th>
            <td><span class=class>{s.status.clone()}</span></td>
            <td>{format!("{} / {}", s.done, s.total)}</td>
            <td>{format_utc(s.connected_at)}</td>
            <td>{s.finished_at.map(format_utc).unwrap_or_default()}</td>
            <td>{s.error.clone().unwrap_or_default()}</td>
        </tr>
    }
}

/// The plan and, once it ran, the report of a source (admins only).
fn plans(s: &Source) -> impl IntoView {
    let plan = s.plan.as_ref().map(|p| {
        view! {
            <details class="plan" open=s.status == "pending">
                <summary>{format!("Plan for {} (dry run, before anything was written)", s.node)}</summary>
                {outcome(p)}
            </details>
        }
    });
    let report = s.report.as_ref().map(|r| {
        view! {
            <details class="plan">
                <summary>{format!("Report for {}", s.node)}</summary>
                {outcome(r)}
            </details>
        }
    });
    view! { {plan} {report} }
}

fn outcome(o: &Outcome) -> impl IntoView {
    let p = &o.products;
    view! {
        <p class="muted">
            {format!(
                "Users created: {}. Folders created: {}. Products: {} new, {} merged by UUID, {} unmanaged (no agent).",
                o.users_created, o.folders_created, p.new, p.merged, p.unmanaged
            )}
        </p>
        <table class="grid">
            <thead>
                <tr>
                    <th scope="col">"Owner"</th>
                    <th scope="col">"Merged"</th>
                    <th scope="col">"Copied"</th>
                    <th scope="col">{format!("Moved into a {} subfolder", o.node)}</th>
                    <th scope="col">"Alerts arriving disabled"</th>
                </tr>
            </thead>
            <tbody>
                {o.owners
                    .iter()
                    .map(|t| view! {
                        <tr>
                            <th scope="row">{t.owner.clone()}</th>
                            <td>{t.merged}</td>
                            <td>{t.copied}</td>
                            <td>{t.moved.join(", ")}</td>
                            <td>{t.disabled.join("; ")}</td>
                        </tr>
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
}
