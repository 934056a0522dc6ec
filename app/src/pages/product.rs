//! One product: its activity data, transport and home node, status history
//! and recent logs; refreshed live.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use super::live::{live, show};
use super::oneclick::OneClicks;
use super::products::status_badge;
use super::reenroll::Reenroll;
use super::send_command::SendCommand;
use crate::api::ProductDetail;
use crate::client;
use crate::console::ConsoleFrame;
use crate::state::StateClass;
use crate::time::format_utc;

#[component]
pub fn ProductPage() -> impl IntoView {
    view! {
        <ConsoleFrame title="Product">
            <Detail/>
        </ConsoleFrame>
    }
}

#[component]
fn Detail() -> impl IntoView {
    let params = use_params_map();
    let detail = live(StateClass::Products, move || {
        let id = params.read().get("id").unwrap_or_default();
        async move { client::product(&id).await }
    });
    let id = params.read_untracked().get("id").unwrap_or_default();
    // The command form stays outside the refreshed parts, so what the user
    // types survives every refresh.
    view! {
        {show(detail, "the product", summary_card)}
        <ProductFirings product=id.clone()/>
        <OneClicks product=id.clone()/>
        <Reenroll product=id.clone()/>
        <SendCommand product=id/>
        {show(detail, "the product's history", view_detail)}
    }
}

fn summary_card(d: ProductDetail) -> impl IntoView {
    let p = d.product;
    let dash = || "—".to_string();
    view! {
        <section class="card detail">
            <h2>{p.name.clone()} " " {status_badge(&p.status)}</h2>
            <dl>
                <dt>"Id"</dt><dd><code>{p.id.clone()}</code></dd>
                <dt>"Type"</dt><dd>{p.product_type.clone()}</dd>
                <dt>"Version"</dt><dd>{p.version.clone()}</dd>
                <dt>"Transport"</dt><dd>{p.transport.clone().unwrap_or_else(dash)}</dd>
                <dt>"Mode"</dt><dd>{p.mode.clone().unwrap_or_else(dash)}</dd>
                <dt>"Home node"</dt><dd>{p.home_node.clone().unwrap_or_else(dash)}</dd>
                <dt>"Last seen"</dt><dd>{p.last_seen.map(|t| format!("{} UTC", format_utc(t))).unwrap_or_else(|| "never".into())}</dd>
            </dl>
        </section>
    }
}

fn view_detail(d: ProductDetail) -> impl IntoView {
    let activity: Vec<(String, String)> = d
        .activity
        .as_ref()
        .and_then(|a| a.as_object())
        .map(|o| o.iter().map(|(k, v)| (k.clone(), v.to_string())).collect())
        .unwrap_or_default();
    view! {
        <h2>"Activity"</h2>
        {if activity.is_empty() {
            view! { <p class="muted">"No activity data yet."</p> }.into_any()
        } else {
            view! {
                <table class="grid" aria-label="Activity">
                    <tbody>
                        {activity.into_iter().map(|(k, v)| view! { <tr><th scope="row">{k}</th><td>{v}</td></tr> }).collect_view()}
                    </tbody>
                </table>
            }.into_any()
        }}
        <h2>"Status history"</h2>
        <table class="grid" aria-label="Status history">
            <thead><tr><th scope="col">"When (UTC)"</th><th scope="col">"From"</th><th scope="col">"To"</th><th scope="col">"Cause"</th></tr></thead>
            <tbody>
                {d.history.into_iter().map(|t| view! {
                    <tr><td>{format_utc(t.at)}</td><td>{t.from}</td><td>{t.to}</td><td>{t.cause}</td></tr>
                }).collect_view()}
            </tbody>
        </table>
        <h2>"Recent logs"</h2>
        <table class="grid" aria-label="Recent logs">
            <thead><tr><th scope="col">"When (UTC)"</th><th scope="col">"Level"</th><th scope="col">"Message"</th></tr></thead>
            <tbody>
                {d.logs.into_iter().map(|l| view! {
                    <tr><td>{format_utc(l.at)}</td><td>{l.level}</td><td>{l.message}</td></tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}

/// The alerts firing for this product now (per-product alerts).
#[component]
fn ProductFirings(product: String) -> impl IntoView {
    let open = super::live::live(StateClass::Alerts, || client::content::firings(true));
    move || {
        let Some(Ok(firings)) = open.get() else {
            return None;
        };
        let mine: Vec<_> = firings
            .into_iter()
            .filter(|f| f.key == product || f.key.ends_with(&format!("/{product}")))
            .collect();
        (!mine.is_empty()).then(|| view! {
            <section class="card" aria-label="Alerts firing">
                <h2>"Alerts firing"</h2>
                <ul>{mine.into_iter().map(|f| view! {
                    <li><span class="badge bad">{f.severity.clone()}</span>" "{f.alert.clone()}" since "{format_utc(f.started_at)}" UTC"</li>
                }).collect_view()}</ul>
            </section>
        })
    }
}
