//! A query's rows: a table sorted by a click on a column's header, pages,
//! and the CSV export of every row.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::content::{ItemKind, RunItem, RunQuery, RunReply, SortOrder};
use crate::client::content as api;
use crate::client::ClientError;
use crate::console::go_to_login;
use crate::pages::live::page_summary;
use crate::time::format_utc;

/// What to run: a saved item, or the text in the editor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    Saved { id: String, name: String },
    Unsaved { query: String, kind: ItemKind },
}

/// One run asked for; a new value (even an equal one) runs again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunSpec {
    pub target: Target,
    /// The product of a one-click investigation.
    pub product: Option<String>,
    /// Tells two runs of the same query apart.
    pub nonce: u32,
}

#[component]
pub fn Results(spec: Signal<Option<RunSpec>>) -> impl IntoView {
    let page = RwSignal::new(0u32);
    let sort = RwSignal::new(None::<SortOrder>);
    let data = RwSignal::new(None::<Result<RunReply, String>>);
    let latest = StoredValue::new(0u64);
    // A new query starts at its first page, in its own order.
    Effect::new(move |_| {
        spec.track();
        page.set(0);
        sort.set(None);
    });
    Effect::new(move |_| {
        let Some(spec) = spec.get() else { return };
        let (page, sort) = (page.get(), sort.get());
        let mine = latest.get_value() + 1;
        latest.set_value(mine);
        data.set(None);
        spawn_local(async move {
            let answer = match &spec.target {
                Target::Saved { id, .. } => {
                    let run = RunItem {
                        page,
                        product: spec.product.clone(),
                        sort,
                    };
                    api::run_item(id, &run).await
                }
                Target::Unsaved { query, kind } => {
                    let run = RunQuery {
                        query: query.clone(),
                        kind: *kind,
                        page,
                        product: spec.product.clone(),
                        sort,
                    };
                    api::run_query(&run).await
                }
            };
            if latest.try_get_value() != Some(mine) {
                return;
            }
            match answer {
                Err(ClientError::Unauthorized) => go_to_login(),
                answer => data.set(Some(answer.map_err(|e| e.to_string()))),
            }
        });
    });
    let csv = move || {
        spec.get().map(|s| match &s.target {
            Target::Saved { id, .. } => api::item_csv(id, s.product.as_deref()),
            Target::Unsaved { query, kind } => {
                api::query_csv(query, kind.as_str(), s.product.as_deref())
            }
        })
    };
    move || {
        if spec.get().is_none() {
            return view! { <p class="muted">"Run a query to see its rows."</p> }.into_any();
        }
        match data.get() {
            None => view! { <p class="muted">"Running…"</p> }.into_any(),
            Some(Err(e)) => view! { <p class="error" role="alert">{e}</p> }.into_any(),
            Some(Ok(reply)) => table(reply, page, sort, csv()).into_any(),
        }
    }
}

fn table(
    reply: RunReply,
    page: RwSignal<u32>,
    sort: RwSignal<Option<SortOrder>>,
    csv: Option<String>,
) -> impl IntoView {
    let start = i64::from(reply.page) * reply.limit;
    let shown = reply.rows.len() as i64;
    let types: Vec<String> = reply.columns.iter().map(|c| c.ty.clone()).collect();
    let last = start + shown >= reply.total;
    view! {
        <p class="summary" role="status">{page_summary(start, shown, reply.total, "row")}</p>
        <table class="grid" aria-label="Results">
            <thead><tr>
                {reply.columns.into_iter().map(|c| {
                    let name = c.name.clone();
                    let arrow = move || match sort.get() {
                        Some(s) if s.column == name => if s.descending { " ▼" } else { " ▲" },
                        _ => "",
                    };
                    let column = c.name.clone();
                    view! {
                        <th scope="col">
                            <button type="button" class="quiet" aria-label=format!("Sort by {}", c.name)
                                on:click=move |_| {
                                    let descending = matches!(sort.get_untracked(), Some(s) if s.column == column && !s.descending);
                                    page.set(0);
                                    sort.set(Some(SortOrder { column: column.clone(), descending }));
                                }>{c.name.clone()}{arrow}</button>
                        </th>
                    }
                }).collect_view()}
            </tr></thead>
            <tbody>
                {reply.rows.into_iter().map(|row| view! {
                    <tr>{row.into_iter().zip(types.clone()).map(|(v, ty)| view! { <td>{cell(&v, &ty)}</td> }).collect_view()}</tr>
                }).collect_view()}
            </tbody>
        </table>
        <div class="pager">
            <button type="button" disabled=reply.page == 0 on:click=move |_| page.update(|p| *p = p.saturating_sub(1))>"Previous"</button>
            <button type="button" disabled=last on:click=move |_| page.update(|p| *p += 1)>"Next"</button>
            {csv.map(|href| view! { <a class="button" href=href download="investigation.csv">"Download CSV"</a> })}
        </div>
    }
}

/// A cell as people read it: times in UTC, durations as queries write them.
fn cell(v: &serde_json::Value, ty: &str) -> String {
    match (v, ty) {
        (serde_json::Value::Null, _) => "—".into(),
        (v, "timestamp") => v.as_i64().map_or_else(|| v.to_string(), format_utc),
        (v, "duration") => v
            .as_i64()
            .map_or_else(|| v.to_string(), query::time::format_duration),
        (serde_json::Value::String(s), _) => s.clone(),
        (v, _) => v.to_string(),
    }
}
