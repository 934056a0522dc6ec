//! The fleet dashboard: how many products have each status, and how that
//! changed over time; live.

use leptos::prelude::*;

use super::chart::fleet_chart;
use super::live::{live, show};
use crate::api::StatusCounts;
use crate::client;
use crate::console::{Console, ConsoleFrame};
use crate::state::StateClass;

#[component]
pub fn DashboardPage() -> impl IntoView {
    view! {
        <ConsoleFrame title="Fleet">
            <Counts/>
            <History/>
        </ConsoleFrame>
    }
}

#[component]
fn Counts() -> impl IntoView {
    let console = expect_context::<Console>();
    let counts = live(StateClass::Products, client::product_counts);
    show(counts, "the fleet", move |c: StatusCounts| {
        let total = c.pending + c.online + c.offline + c.unmanaged;
        let card = move |label: &'static str, status: &'static str, n: i64| {
            let href = if status.is_empty() {
                console.href("/products")
            } else {
                format!("/products?status={status}")
            };
            view! {
                <a class=format!("stat stat-{}", if status.is_empty() { "total" } else { status }) href=href>
                    <span class="stat-label">{label}</span>
                    <span class="stat-value">{n.to_string()}</span>
                </a>
            }
        };
        view! {
            <section class="stats" aria-label="Products by status">
                {card("Online", "online", c.online)}
                {card("Offline", "offline", c.offline)}
                {card("Pending", "pending", c.pending)}
                {card("Unmanaged", "unmanaged", c.unmanaged)}
                {card("Total", "", total)}
            </section>
        }
    })
}

#[component]
fn History() -> impl IntoView {
    let window = RwSignal::new("1h".to_string());
    let history = live(StateClass::Products, move || {
        let window = window.get();
        async move { client::fleet_history(&window).await }
    });
    view! {
        <div class="toolbar">
            <h2>"Status over time"</h2>
            <label class="inline">
                "Window"
                <select on:change=move |ev| window.set(event_target_value(&ev)) prop:value=move || window.get()>
                    <option value="1h">"Last hour"</option>
                    <option value="24h">"Last 24 hours"</option>
                    <option value="7d">"Last 7 days"</option>
                </select>
            </label>
        </div>
        {show(history, "the fleet's history", fleet_chart)}
    }
}
