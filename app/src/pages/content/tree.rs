//! One tree (the user's own, or Global): folders that open and close, the
//! items inside, and what can be done to each.

use leptos::prelude::*;

use super::results::{RunSpec, Target};
use super::{parse_place, paths, place, Workbench};
use crate::api::content::{
    Duplicate, Folder, FolderChange, Item, ItemChange, ItemKind, NewFolder, Scope, Trees,
};
use crate::client::content as api;

fn ask(question: &str) -> Option<String> {
    let answer = web_sys::window()?.prompt_with_message(question).ok()??;
    Some(answer).filter(|a| !a.trim().is_empty())
}

fn confirm(question: &str) -> bool {
    web_sys::window().is_some_and(|w| w.confirm_with_message(question).unwrap_or(false))
}

#[component]
pub fn TreeView(scope: Scope) -> impl IntoView {
    let bench = expect_context::<Workbench>();
    let title = match scope {
        Scope::Mine => "My content",
        Scope::Global => "Global",
    };
    let body = move || match bench.trees.get() {
        None => view! { <p class="muted">"Loading…"</p> }.into_any(),
        Some(Err(e)) => view! { <p class="error" role="alert">{e}</p> }.into_any(),
        Some(Ok(trees)) => {
            let may_change = scope == Scope::Mine || trees.manage_global;
            view! {
                {may_change.then(|| view! {
                    <button type="button" class="quiet" aria-label=format!("New folder in {title}")
                        on:click=move |_| new_folder(bench, scope, None)>"New folder"</button>
                })}
                <ul class="tree" aria-label=title>{level(&trees, scope, None, may_change)}</ul>
            }
            .into_any()
        }
    };
    view! {
        <h2>{title}</h2>
        {body}
    }
}

fn new_folder(bench: Workbench, scope: Scope, parent: Option<String>) {
    if let Some(name) = ask("Name of the new folder") {
        let new = NewFolder {
            scope,
            parent,
            name,
        };
        bench.act(async move { api::create_folder(&new).await }, |f| {
            format!("Folder \"{}\" created.", f.name)
        });
    }
}

/// The folders and items directly inside `parent`, folders first.
fn level(trees: &Trees, scope: Scope, parent: Option<&str>, may_change: bool) -> AnyView {
    let folders: Vec<Folder> = trees
        .folders
        .iter()
        .filter(|f| f.scope == scope && f.parent.as_deref() == parent)
        .cloned()
        .collect();
    let items: Vec<Item> = trees
        .items
        .iter()
        .filter(|i| i.scope == scope && i.folder.as_deref() == parent)
        .cloned()
        .collect();
    let trees = trees.clone();
    view! {
        {folders.into_iter().map(|f| folder_node(&trees, f, may_change)).collect_view()}
        {items.into_iter().map(|i| item_node(&trees, i, may_change)).collect_view()}
    }
    .into_any()
}

fn folder_node(trees: &Trees, f: Folder, may_change: bool) -> impl IntoView {
    let bench = expect_context::<Workbench>();
    let inside = level(trees, f.scope, Some(&f.id), may_change);
    // A folder may move anywhere in its tree but into itself.
    let targets: Vec<(String, String)> = paths(&trees.folders, f.scope)
        .into_iter()
        .filter(|(id, path)| {
            *id != f.id && !path.starts_with(&format!("{} / ", own_path(trees, &f)))
        })
        .collect();
    let (id, name, scope) = (f.id.clone(), f.name.clone(), f.scope);
    let actions = may_change.then(|| {
        let (id2, id3, id4) = (id.clone(), id.clone(), id.clone());
        let (name2, name3) = (name.clone(), name.clone());
        view! {
            <span class="actions">
                <button type="button" class="quiet" aria-label=format!("New folder in {name}")
                    on:click=move |_| new_folder(bench, scope, Some(id2.clone()))>"+ folder"</button>
                <button type="button" class="quiet" aria-label=format!("Rename folder {name}")
                    on:click=move |_| {
                        if let Some(new) = ask("New name of the folder") {
                            let (id, change) = (id3.clone(), FolderChange { name: Some(new), parent: None });
                            bench.act(async move { api::change_folder(&id, &change).await }, |f| format!("Folder renamed to \"{}\".", f.name));
                        }
                    }>"Rename"</button>
                <select aria-label=format!("Move folder {name}") on:change=move |ev| {
                    let target = event_target_value(&ev);
                    if target.is_empty() { return; }
                    let (_, parent) = parse_place(&target);
                    let (id, change) = (id4.clone(), FolderChange { name: None, parent: Some(parent) });
                    bench.act(async move { api::change_folder(&id, &change).await }, |f| format!("Folder \"{}\" moved.", f.name));
                }>
                    <option value="">"Move to…"</option>
                    <option value=place(scope, None)>"(top)"</option>
                    {targets.into_iter().map(|(id, path)| view! { <option value=place(scope, Some(&id))>{path}</option> }).collect_view()}
                </select>
                <button type="button" class="quiet" aria-label=format!("Delete folder {name2}")
                    on:click=move |_| {
                        if confirm(&format!("Delete the folder \"{name3}\" and everything in it?")) {
                            let id = id.clone();
                            bench.act(async move { api::delete_folder(&id, true).await },
                                |d| format!("Deleted {} folder(s) and {} item(s).", d.folders, d.items));
                        }
                    }>"Delete"</button>
            </span>
        }
    });
    view! {
        <li>
            <details open>
                <summary><span class="folder">{f.name.clone()}</span></summary>
                {actions}
                <ul>{inside}</ul>
            </details>
        </li>
    }
}

fn own_path(trees: &Trees, f: &Folder) -> String {
    paths(&trees.folders, f.scope)
        .into_iter()
        .find(|(id, _)| *id == f.id)
        .map(|(_, p)| p)
        .unwrap_or_default()
}

fn item_node(trees: &Trees, item: Item, may_change: bool) -> impl IntoView {
    let bench = expect_context::<Workbench>();
    let targets = paths(&trees.folders, item.scope);
    let publish = trees.manage_global && item.scope == Scope::Mine;
    let badge = match item.kind {
        ItemKind::Investigation => "investigation",
        ItemKind::OneClick => "one-click",
        ItemKind::Alert => "alert",
    };
    let name = item.name.clone();
    let open = {
        let item = item.clone();
        move |_| {
            bench.open.set(Some(item.id.clone()));
            bench.name.set(item.name.clone());
            bench.kind.set(item.kind);
            bench.alert.set(
                item.alert
                    .as_ref()
                    .map_or_else(super::new_alert_spec, |a| a.spec.clone()),
            );
            bench.place.set(place(item.scope, item.folder.as_deref()));
            bench.text.set(item.definition.clone());
            bench
                .message
                .set(Some(format!("Opened \"{}\".", item.name)));
        }
    };
    let run = {
        let (id, name) = (item.id.clone(), item.name.clone());
        move |_| {
            bench.run(RunSpec {
                target: Target::Saved {
                    id: id.clone(),
                    name: name.clone(),
                },
                product: None,
                nonce: 0,
            })
        }
    };
    let enablement = item
        .alert
        .clone()
        .map(|alert| enablement(bench, &item, alert.enabled_on, may_change));
    let id = item.id.clone();
    let (dup_id, move_id, pub_id, del_id) = (id.clone(), id.clone(), id.clone(), id.clone());
    let scope = item.scope;
    view! {
        <li class="item">
            <button type="button" class="link" aria-label=format!("Open {name}") on:click=open>{item.name.clone()}</button>
            " " <span class="badge">{badge}</span>
            {enablement}
            <span class="actions">
                {(item.kind == ItemKind::Investigation).then(|| view! {
                    <button type="button" class="quiet" aria-label=format!("Run {name}") on:click=run>"Run"</button>
                })}
                <button type="button" class="quiet" aria-label=format!("Duplicate {name}") on:click=move |_| {
                    let (id, to) = (dup_id.clone(), Duplicate { scope: Some(Scope::Mine), folder: None, name: None });
                    bench.act(async move { api::duplicate_item(&id, &to).await }, |i| format!("Copied as \"{}\".", i.name));
                }>"Duplicate"</button>
                {may_change.then(|| view! {
                    <select aria-label=format!("Move {name}") on:change=move |ev| {
                        let target = event_target_value(&ev);
                        if target.is_empty() { return; }
                        let (_, folder) = parse_place(&target);
                        let (id, change) = (move_id.clone(), ItemChange { folder: Some(folder), ..Default::default() });
                        bench.act(async move { api::change_item(&id, &change).await }, |i| format!("\"{}\" moved.", i.name));
                    }>
                        <option value="">"Move to…"</option>
                        <option value=place(scope, None)>"(top)"</option>
                        {targets.into_iter().map(|(id, path)| view! { <option value=place(scope, Some(&id))>{path}</option> }).collect_view()}
                    </select>
                })}
                {publish.then(|| view! {
                    <button type="button" class="quiet" aria-label=format!("Publish {name} to Global") on:click=move |_| {
                        let (id, to) = (pub_id.clone(), Duplicate { scope: Some(Scope::Global), folder: None, name: None });
                        bench.act(async move { api::duplicate_item(&id, &to).await }, |i| format!("Published \"{}\" to Global.", i.name));
                    }>"Publish to Global"</button>
                })}
                {may_change.then(|| {
                    let name = name.clone();
                    view! {
                        <button type="button" class="quiet" aria-label=format!("Delete {name}") on:click=move |_| {
                            if confirm(&format!("Delete \"{name}\"?")) {
                                let id = del_id.clone();
                                bench.act(async move { api::delete_item(&id).await }, |_| "Deleted.".to_string());
                            }
                        }>"Delete"</button>
                    }
                })}
            </span>
        </li>
    }
}

/// Where an alert is enabled, and a switch per node of the cluster.
fn enablement(
    bench: Workbench,
    item: &Item,
    enabled_on: Vec<String>,
    may_change: bool,
) -> impl IntoView {
    let (id, name) = (item.id.clone(), item.name.clone());
    let shown = if enabled_on.is_empty() {
        "nowhere".to_string()
    } else {
        enabled_on.join(", ")
    };
    let switches = move || {
        let Some(Ok(list)) = bench.nodes.get() else {
            return None;
        };
        may_change.then(|| {
            list.nodes
                .into_iter()
                .map(|n| {
                    let on = enabled_on.contains(&n.name);
                    let (id, node) = (id.clone(), n.name.clone());
                    let label = format!("{} {name} on {}", if on { "Disable" } else { "Enable" }, n.name);
                    view! {
                        <button type="button" class="quiet" aria-label=label.clone() on:click=move |_| {
                            let (id, node, shown) = (id.clone(), node.clone(), node.clone());
                            bench.act(
                                async move { api::set_alert_enabled(&id, &node, !on).await },
                                move |_| format!("{} on {shown}.", if on { "Disabled" } else { "Enabled" }),
                            );
                        }>{label.clone()}</button>
                    }
                })
                .collect_view()
        })
    };
    let (for_coverage, name_c) = (item.id.clone(), item.name.clone());
    let coverage = move |_| {
        let id = for_coverage.clone();
        bench.act(async move { api::coverage(&id).await }, |c| {
            let nodes: Vec<String> = c
                .nodes
                .iter()
                .map(|n| {
                    format!(
                        "{} {}{}",
                        n.node,
                        n.products,
                        if n.operational { "" } else { " (down)" }
                    )
                })
                .collect();
            format!(
                "Coverage: {}; not covered: {}.",
                nodes.join(", "),
                c.uncovered
            )
        });
    };
    view! {
        <span class="enabled" aria-label=format!("{} is enabled on", item.name)>{format!(" enabled on: {shown}")}</span>
        <span class="actions">
            {switches}
            <button type="button" class="quiet" aria-label=format!("Coverage of {name_c}") on:click=coverage>"Coverage"</button>
        </span>
    }
}
