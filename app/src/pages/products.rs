//! The product table: filter by status, search name, type or id, sort and
//! page through a fleet of any size; refreshed live.

use super::filters::{from_query, keep_in_url};
use super::live::{live, page_summary, pager, show};
use crate::api::{ProductPage, ProductStatus, ProductSummary};
use crate::client;
use crate::console::ConsoleFrame;
use crate::state::StateClass;
use crate::time::format_utc;
use leptos::prelude::*;

const PAGE: i64 = 100;

#[component]
pub fn ProductsPage() -> impl IntoView {
    view! {
        <ConsoleFrame title="Products">
            <ProductTable/>
        </ConsoleFrame>
    }
}

#[component]
fn ProductTable() -> impl IntoView {
    let (status, search, sort) = (from_query("status"), from_query("q"), from_query("sort"));
    keep_in_url(vec![("status", status), ("q", search), ("sort", sort)]);
    let offset = RwSignal::new(0i64);
    let page = live(StateClass::Products, move || {
        let filter = client::ProductFilter {
            status: ProductStatus::parse(&status.get()),
            search: search.get(),
            sort: sort.get(),
            limit: PAGE,
            offset: offset.get(),
        };
        async move { client::products(&filter).await }
    });
    view! {
        <div class="toolbar">
            <label class="inline">
                "Status"
                <select on:change=move |ev| { status.set(event_target_value(&ev)); offset.set(0); } prop:value=move || status.get()>
                    <option value="">"All"</option>
                    {ProductStatus::ALL
                        .iter()
                        .map(|s| view! { <option value=s.as_str()>{label(*s)}</option> })
                        .collect_view()}
                </select>
            </label>
            <label class="inline">
                "Search"
                <input type="search" placeholder="name, type or id"
                    prop:value=move || search.get()
                    on:input=move |ev| { search.set(event_target_value(&ev)); offset.set(0); }/>
            </label>
            <label class="inline">
                "Sort by"
                <select on:change=move |ev| sort.set(event_target_value(&ev)) prop:value=move || sort.get()>
                    <option value="">"Name"</option>
                    <option value="status">"Status"</option>
                    <option value="last_seen">"Last seen"</option>
                </select>
            </label>
        </div>
        {show(page, "products", move |p: ProductPage| table(p, offset))}
    }
}

fn table(p: ProductPage, offset: RwSignal<i64>) -> impl IntoView {
    let start = offset.get_untracked();
    let shown = p.products.len() as i64;
    let total = p.total;
    let summary = page_summary(start, shown, total, "product");
    view! {
        <p class="summary" role="status" aria-live="polite">{summary}</p>
        <table class="grid">
            <thead>
                <tr>
                    <th scope="col">"Name"</th>
                    <th scope="col">"Type"</th>
                    <th scope="col">"Version"</th>
                    <th scope="col">"Status"</th>
                    <th scope="col">"Transport"</th>
                    <th scope="col">"Home node"</th>
                    <th scope="col">"Last seen (UTC)"</th>
                </tr>
            </thead>
            <tbody>{p.products.into_iter().map(row).collect_view()}</tbody>
        </table>
        {pager(offset, shown, total, PAGE)}
    }
}

/// The badge of a status.
pub fn status_badge(status: &str) -> impl IntoView {
    let class = match status {
        "online" => "badge ok",
        "offline" => "badge bad",
        _ => "badge",
    };
    view! { <span class=class>{status.to_string()}</span> }
}

fn row(p: ProductSummary) -> impl IntoView {
    view! {
        <tr>
            <th scope="row"><a href=format!("/products/{}", p.id)>{p.name.clone()}</a></th>
            <td>{p.product_type}</td>
            <td>{p.version}</td>
            <td>{status_badge(&p.status)}</td>
            <td>{p.transport.unwrap_or_else(|| "—".into())}</td>
            <td>{p.home_node.unwrap_or_else(|| "—".into())}</td>
            <td>{p.last_seen.map(format_utc).unwrap_or_else(|| "never".into())}</td>
        </tr>
    }
}

/// A status as the status filter names it (`Online`).
fn label(status: ProductStatus) -> String {
    let text = status.as_str();
    text[..1].to_ascii_uppercase() + &text[1..]
}
