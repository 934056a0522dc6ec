//! The query editor: checked as the user types (the query crate runs in
//! the browser), with the fields that may come next at the cursor.

use leptos::prelude::*;
use leptos::task::spawn_local;

use super::results::{RunSpec, Target};
use super::{parse_place, paths, place, Workbench};
use crate::api::content::{
    AlertScope, AlertSpec, ItemChange, ItemKind, NewItem, RunQuery, Scope, Severity, TestAlert,
};
use crate::client::content as api;
use crate::client::ClientError;
use crate::console::go_to_login;

fn kind_of(text: &str) -> ItemKind {
    ItemKind::parse(text).unwrap_or_default()
}

fn checked_kind(kind: ItemKind) -> query::Kind {
    match kind {
        ItemKind::Investigation => query::Kind::Investigation,
        ItemKind::OneClick => query::Kind::OneClick,
        ItemKind::Alert => query::Kind::Alert,
    }
}

#[component]
pub fn Editor() -> impl IntoView {
    let bench = expect_context::<Workbench>();
    let cursor = RwSignal::new(0usize);
    let explained = RwSignal::new(None::<Result<String, String>>);
    let check = Memo::new(move |_| {
        let text = bench.text.get();
        if text.trim().is_empty() {
            return None;
        }
        Some(query::analyze(&text, checked_kind(bench.kind.get())).map(|q| q.columns().len()))
    });
    let suggestions = Memo::new(move |_| {
        let text = bench.text.get();
        let (list, range) = query::suggest(&text, cursor.get());
        (list.into_iter().take(12).collect::<Vec<_>>(), range)
    });
    let places = move || {
        let Some(Ok(trees)) = bench.trees.get() else {
            return Vec::new();
        };
        let mut out = vec![(place(Scope::Mine, None), "My content".to_string())];
        out.extend(
            paths(&trees.folders, Scope::Mine)
                .into_iter()
                .map(|(id, p)| (place(Scope::Mine, Some(&id)), format!("My content / {p}"))),
        );
        if trees.manage_global {
            out.push((place(Scope::Global, None), "Global".to_string()));
            out.extend(
                paths(&trees.folders, Scope::Global)
                    .into_iter()
                    .map(|(id, p)| (place(Scope::Global, Some(&id)), format!("Global / {p}"))),
            );
        }
        out
    };
    let track_cursor = move |ev: &leptos::ev::Event| {
        use web_sys::wasm_bindgen::JsCast;
        if let Some(area) = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::HtmlTextAreaElement>().ok())
        {
            let utf16 = area.selection_start().ok().flatten().unwrap_or(0) as usize;
            // The browser counts UTF-16 units; the query crate, bytes.
            let text = bench.text.get_untracked();
            let bytes = text
                .char_indices()
                .scan(0usize, |units, (i, c)| {
                    let at = *units;
                    *units += c.len_utf16();
                    Some((at, i))
                })
                .find(|(units, _)| *units >= utf16)
                .map_or(text.len(), |(_, i)| i);
            cursor.set(bytes);
        }
    };
    let save = move |as_new: bool| {
        let (scope, folder) = parse_place(&bench.place.get_untracked());
        let (name, definition, kind) = (
            bench.name.get_untracked(),
            bench.text.get_untracked(),
            bench.kind.get_untracked(),
        );
        match bench.open.get_untracked().filter(|_| !as_new) {
            Some(id) => {
                let change = ItemChange {
                    name: Some(name),
                    definition: Some(definition),
                    scope: Some(scope),
                    folder: Some(folder),
                    alert: (kind == ItemKind::Alert).then(|| bench.alert.get_untracked()),
                };
                bench.act(async move { api::change_item(&id, &change).await }, |i| {
                    format!("Saved \"{}\".", i.name)
                });
            }
            None => spawn_local(async move {
                let new = NewItem {
                    alert: (kind == ItemKind::Alert).then(|| bench.alert.get_untracked()),
                    scope,
                    folder,
                    kind,
                    name,
                    definition,
                };
                match api::create_item(&new).await {
                    Ok(item) => {
                        bench.open.set(Some(item.id));
                        bench.message.set(Some(format!("Saved \"{}\".", item.name)));
                    }
                    Err(ClientError::Unauthorized) => go_to_login(),
                    Err(e) => bench.message.set(Some(format!("Refused: {e}"))),
                }
            }),
        }
    };
    // What is in the editor runs, saved or not.
    let run = move |_| {
        let target = Target::Unsaved {
            query: bench.text.get_untracked(),
            kind: bench.kind.get_untracked(),
        };
        bench.run(RunSpec {
            target,
            product: None,
            nonce: 0,
        });
    };
    let explain = move |_| {
        let run = RunQuery {
            query: bench.text.get_untracked(),
            kind: bench.kind.get_untracked(),
            ..Default::default()
        };
        spawn_local(async move {
            let answer = api::explain(&run).await;
            explained.set(Some(
                answer
                    .map(|e| {
                        format!(
                            "{} ({})\n{}\n\n{}",
                            e.canonical,
                            e.engine,
                            e.sql,
                            e.plan.join("\n")
                        )
                    })
                    .map_err(|e| e.to_string()),
            ));
        });
    };
    let tested = RwSignal::new(None::<Result<String, String>>);
    let test = move |_| {
        let test = TestAlert {
            definition: bench.text.get_untracked(),
            alert: bench.alert.get_untracked(),
        };
        spawn_local(async move {
            let answer = api::test_alert(&test).await.map(|r| {
                let over = if r.over == "fleet" {
                    "the whole fleet".to_string()
                } else {
                    format!("the products of {}", r.over)
                };
                if r.fires.is_empty() {
                    format!("Over {over}: it would not fire now.")
                } else {
                    let keys: Vec<String> = r
                        .fires
                        .iter()
                        .map(|f| {
                            let key = f.key.split('/').next_back().unwrap_or_default();
                            if key.is_empty() {
                                format!("{} row(s)", f.matched)
                            } else {
                                format!("{key} ({})", f.matched)
                            }
                        })
                        .collect();
                    format!("Over {over}: it would fire for {}.", keys.join(", "))
                }
            });
            tested.set(Some(answer.map_err(|e| e.to_string())));
        });
    };
    let clear = move |_| {
        bench.open.set(None);
        bench.name.set(String::new());
        bench.text.set(String::new());
        explained.set(None);
    };
    view! {
        <h2>{move || if bench.open.get().is_some() { "Edit" } else { "New investigation" }}</h2>
        <div class="settings">
            <label>"Name" <input prop:value=move || bench.name.get() on:input=move |ev| bench.name.set(event_target_value(&ev))/></label>
            <label>"Kind"
                <select prop:value=move || bench.kind.get().as_str() on:change=move |ev| bench.kind.set(kind_of(&event_target_value(&ev)))>
                    <option value="investigation">"Investigation"</option>
                    <option value="one_click">"One-click (runs on a product)"</option>
                    <option value="alert">"Alert"</option>
                </select>
            </label>
            <label>"Save in"
                <select prop:value=move || bench.place.get() on:change=move |ev| bench.place.set(event_target_value(&ev))>
                    {move || places().into_iter().map(|(value, label)| view! { <option value=value.clone() selected=move || bench.place.get() == value>{label}</option> }).collect_view()}
                </select>
            </label>
        </div>
        {move || (bench.kind.get() == ItemKind::Alert).then(|| alert_fields(bench))}
        <label class="query">"Query"
            <textarea rows="4" spellcheck="false" prop:value=move || bench.text.get()
                on:input=move |ev| { bench.text.set(event_target_value(&ev)); track_cursor(&ev); }
                on:click=move |ev| track_cursor(&ev)
                on:keyup=move |ev| track_cursor(&ev)></textarea>
        </label>
        {move || match check.get() {
            None => view! { <p class="muted">"products, status_changes, commands or logs; then where, fields, group by, sort, limit."</p> }.into_any(),
            Some(Ok(columns)) => view! { <p class="ok" role="status">{format!("Valid: {columns} column(s)")}</p> }.into_any(),
            Some(Err(e)) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
        }}
        <div class="suggestions" aria-label="Suggestions">
            {move || {
                let (list, range) = suggestions.get();
                list.into_iter().map(|s| {
                    let (text, range) = (s.text.clone(), range.clone());
                    view! {
                        <button type="button" class="chip" title=s.detail.clone() on:click=move |_| {
                            let mut current = bench.text.get_untracked();
                            if range.end <= current.len() {
                                current.replace_range(range.clone(), &format!("{text} "));
                                cursor.set(range.start + text.len() + 1);
                                bench.text.set(current);
                            }
                        }>{s.text.clone()}</button>
                    }
                }).collect_view()
            }}
        </div>
        <div class="pager">
            <button type="button" disabled=move || !matches!(check.get(), Some(Ok(_))) on:click=run>"Run"</button>
            <button type="button" disabled=move || !matches!(check.get(), Some(Ok(_))) on:click=move |_| save(false)>"Save"</button>
            <button type="button" class="quiet" disabled=move || bench.open.get().is_none() on:click=move |_| save(true)>"Save as new"</button>
            <button type="button" class="quiet" disabled=move || !matches!(check.get(), Some(Ok(_))) on:click=explain>"Explain"</button>
            {move || (bench.kind.get() == ItemKind::Alert).then(|| view! {
                <button type="button" class="quiet" disabled=move || !matches!(check.get(), Some(Ok(_))) on:click=test>"Test now"</button>
            })}
            <button type="button" class="quiet" on:click=clear>"New"</button>
        </div>
        {move || tested.get().map(|t| match t {
            Ok(text) => view! { <p class="summary" aria-label="Test result">{text}</p> }.into_any(),
            Err(e) => view! { <p class="error" role="alert">{e}</p> }.into_any(),
        })}
        {move || explained.get().map(|e| match e {
            Ok(text) => view! { <pre class="plan" aria-label="Plan">{text}</pre> }.into_any(),
            Err(e) => view! { <p class="error" role="alert">{e}</p> }.into_any(),
        })}
    }
}

/// An alert's condition and timing.
fn alert_fields(bench: Workbench) -> impl IntoView {
    let text = move |label: &'static str,
                     get: fn(&AlertSpec) -> String,
                     set: fn(&mut AlertSpec, String)| {
        view! {
            <label>{label}
                <input prop:value=move || bench.alert.with(get)
                    on:input=move |ev| bench.alert.update(|a| set(a, event_target_value(&ev)))/>
            </label>
        }
    };
    view! {
        <fieldset class="settings" aria-label="Alert">
            {text("Condition (rows > N, rows = 0, count > N, per product)", |a| a.condition.clone(), |a, v| a.condition = v)}
            {text("Every", |a| a.period.clone(), |a, v| a.period = v)}
            {text("For", |a| a.for_.clone(), |a, v| a.for_ = v)}
            {text("Clear after", |a| a.clear_for.clone(), |a, v| a.clear_for = v)}
            <label>"Severity"
                <select prop:value=move || bench.alert.with(|a| severity_name(a.severity))
                    on:change=move |ev| bench.alert.update(|a| a.severity = severity_of(&event_target_value(&ev)))>
                    <option value="info">"info"</option>
                    <option value="warning">"warning"</option>
                    <option value="critical">"critical"</option>
                </select>
            </label>
            <label>"Evaluated"
                <select prop:value=move || bench.alert.with(|a| if a.scope == AlertScope::Fleet { "fleet" } else { "node" })
                    on:change=move |ev| bench.alert.update(|a| a.scope = if event_target_value(&ev) == "fleet" { AlertScope::Fleet } else { AlertScope::Node })>
                    <option value="node">"by each node, over its own products"</option>
                    <option value="fleet">"once, over the whole fleet"</option>
                </select>
            </label>
        </fieldset>
    }
}

fn severity_name(s: Severity) -> &'static str {
    match s {
        Severity::Info => "info",
        Severity::Warning => "warning",
        Severity::Critical => "critical",
    }
}

fn severity_of(text: &str) -> Severity {
    match text {
        "info" => Severity::Info,
        "critical" => Severity::Critical,
        _ => Severity::Warning,
    }
}
