//! The command queue: every command with its state, filtered by state,
//! product or node (kept in the URL); and one command's timeline. Both
//! refresh live when the commands counter of the state string moves.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use super::filters::{from_query, keep_in_url, text_filter};
use super::live::{live, page_summary, pager, show};
use crate::api::{CommandDetail, CommandPage, CommandState, CommandSummary};
use crate::client;
use crate::console::ConsoleFrame;
use crate::state::StateClass;
use crate::time::format_utc;

const PAGE: i64 = 100;

#[component]
pub fn CommandsPage() -> impl IntoView {
    view! {
        <ConsoleFrame title="Commands">
            <CommandTable/>
        </ConsoleFrame>
    }
}

#[component]
fn CommandTable() -> impl IntoView {
    let (state, product, node) = (
        from_query("state"),
        from_query("product"),
        from_query("node"),
    );
    keep_in_url(vec![("state", state), ("product", product), ("node", node)]);
    let offset = RwSignal::new(0i64);
    let page = live(StateClass::Commands, move || {
        let filter = client::CommandFilter {
            state: CommandState::parse(&state.get()),
            product: product.get(),
            node: node.get(),
            limit: PAGE,
            offset: offset.get(),
        };
        async move { client::commands(&filter).await }
    });
    view! {
        <div class="toolbar">
            <label class="inline">
                "State"
                <select on:change=move |ev| { state.set(event_target_value(&ev)); offset.set(0); } prop:value=move || state.get()>
                    <option value="">"All"</option>
                    {CommandState::ALL
                        .iter()
                        .map(|s| view! { <option value=s.as_str()>{s.as_str()}</option> })
                        .collect_view()}
                </select>
            </label>
            {text_filter("Product", "product id", product, offset)}
            {text_filter("Node", "node name", node, offset)}
        </div>
        {show(page, "commands", move |p: CommandPage| table(p, offset))}
    }
}

/// The badge of a command state.
pub fn state_badge(state: &str) -> impl IntoView {
    let class = match state {
        "succeeded" => "badge ok",
        "failed" | "dead" | "expired" => "badge bad",
        _ => "badge",
    };
    view! { <span class=class>{state.to_string()}</span> }
}

fn table(p: CommandPage, offset: RwSignal<i64>) -> impl IntoView {
    let start = offset.get_untracked();
    let shown = p.commands.len() as i64;
    let total = p.total;
    view! {
        <p class="summary" role="status" aria-live="polite">{page_summary(start, shown, total, "command")}</p>
        {commands_table(p.commands, true)}
        {pager(offset, shown, total, PAGE)}
    }
}

/// A table of commands; `with_product` adds the product column.
pub fn commands_table(commands: Vec<CommandSummary>, with_product: bool) -> impl IntoView {
    view! {
        <table class="grid" aria-label="Commands">
            <thead>
                <tr>
                    <th scope="col">"Queued (UTC)"</th>
                    {with_product.then(|| view! { <th scope="col">"Product"</th> })}
                    <th scope="col">"Kind"</th>
                    <th scope="col">"State"</th>
                    <th scope="col">"Attempts"</th>
                    <th scope="col">"Node"</th>
                    <th scope="col">"Queued by"</th>
                </tr>
            </thead>
            <tbody>
                {commands.into_iter().map(|c| view! {
                    <tr>
                        <td><a href=format!("/commands/{}", c.id)>{format_utc(c.created_at)}</a></td>
                        {with_product.then(|| view! {
                            <td><a href=format!("/products/{}", c.product_id)>{c.product_name.clone()}</a></td>
                        })}
                        <td>{c.kind.clone()}</td>
                        <td>{state_badge(&c.state)}</td>
                        <td>{c.attempts.to_string()}</td>
                        <td>{c.holder.clone().unwrap_or_else(|| "—".into())}</td>
                        <td>{c.created_by.clone()}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}

#[component]
pub fn CommandPage() -> impl IntoView {
    view! {
        <ConsoleFrame title="Command">
            <Detail/>
        </ConsoleFrame>
    }
}

#[component]
fn Detail() -> impl IntoView {
    let params = use_params_map();
    let detail = live(StateClass::Commands, move || {
        let id = params.read().get("id").unwrap_or_default();
        async move { client::command(&id).await }
    });
    show(detail, "the command", view_detail)
}

fn view_detail(d: CommandDetail) -> impl IntoView {
    let c = d.command;
    let args = serde_json::to_string_pretty(&d.args).unwrap_or_default();
    view! {
        <section class="card detail">
            <h2>{c.kind.clone()} " for " <a href=format!("/products/{}", c.product_id)>{c.product_name.clone()}</a> " " {state_badge(&c.state)}</h2>
            <dl>
                <dt>"Id"</dt><dd><code>{c.id.clone()}</code></dd>
                <dt>"Queued"</dt><dd>{format!("{} UTC by {}", format_utc(c.created_at), c.created_by)}</dd>
                <dt>"Attempts"</dt><dd>{c.attempts.to_string()}</dd>
                <dt>"Node"</dt><dd>{c.holder.clone().unwrap_or_else(|| "—".into())}</dd>
                <dt>"Arguments"</dt><dd><pre>{args}</pre></dd>
                <dt>"Result"</dt><dd><pre aria-label="Result">{d.output.unwrap_or_else(|| "—".into())}</pre></dd>
            </dl>
        </section>
        <h2>"Timeline"</h2>
        <table class="grid" aria-label="Timeline">
            <thead><tr><th scope="col">"When (UTC)"</th><th scope="col">"Node"</th><th scope="col">"State"</th><th scope="col">"What happened"</th></tr></thead>
            <tbody>
                {d.events.into_iter().map(|e| view! {
                    <tr><td>{format_utc(e.at)}</td><td>{e.node}</td><td>{state_badge(&e.state)}</td><td>{e.note}</td></tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}
