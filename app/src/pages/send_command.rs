//! The product page's command form and the product's recent commands.

use leptos::prelude::*;
use leptos::task::spawn_local;

use super::commands::commands_table;
use super::live::{live, show};
use crate::api::{CommandPage, NewCommandRequest, UserRole};
use crate::client::{self, ClientError};
use crate::console::go_to_login;
use crate::state::StateClass;

/// Command kinds offered in the form (any other can be typed).
const KINDS: [&str; 6] = [
    "ping",
    "collect_inventory",
    "restart_service",
    "maintenance",
    "provision",
    "unprovision",
];

/// What the form last did.
#[derive(Clone, Debug, PartialEq)]
enum Sent {
    Nothing,
    Queued(String),
    Refused(String),
}

#[component]
pub fn SendCommand(product: String) -> impl IntoView {
    let can_send = RwSignal::new(None::<bool>);
    Effect::new(move |_| {
        spawn_local(async move {
            match client::me().await {
                Ok(me) => can_send.set(Some(me.role != UserRole::Viewer)),
                Err(ClientError::Unauthorized) => go_to_login(),
                Err(_) => can_send.set(Some(false)),
            }
        });
    });
    let kind = RwSignal::new("ping".to_string());
    let args = RwSignal::new("{}".to_string());
    let sent = RwSignal::new(Sent::Nothing);
    let product_id = StoredValue::new(product.clone());
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let args = match serde_json::from_str::<serde_json::Value>(&args.get_untracked()) {
            Ok(v) if v.is_object() => v,
            _ => {
                sent.set(Sent::Refused(
                    "Arguments must be a JSON object, e.g. {}".into(),
                ));
                return;
            }
        };
        let request = NewCommandRequest {
            product_id: product_id.get_value(),
            kind: kind.get_untracked().trim().to_owned(),
            args,
        };
        spawn_local(async move {
            match client::queue_command(&request).await {
                Ok(c) => sent.set(Sent::Queued(c.id)),
                Err(ClientError::Unauthorized) => go_to_login(),
                Err(e) => sent.set(Sent::Refused(e.to_string())),
            }
        });
    };
    let form = move || {
        match can_send.get() {
        None => None,
        Some(false) => Some(view! { <p class="muted">"Viewers cannot queue commands."</p> }.into_any()),
        Some(true) => Some(view! {
            <form class="card settings" aria-label="Send a command" on:submit=submit>
                <label>
                    "Command"
                    <input list="command-kinds" prop:value=move || kind.get()
                        on:input=move |ev| kind.set(event_target_value(&ev))/>
                    <datalist id="command-kinds">
                        {KINDS.map(|k| view! { <option value=k/> })}
                    </datalist>
                </label>
                <label>
                    "Arguments (JSON)"
                    <textarea rows="2" prop:value=move || args.get()
                        on:input=move |ev| args.set(event_target_value(&ev))></textarea>
                </label>
                <button type="submit">"Queue command"</button>
                {move || match sent.get() {
                    Sent::Nothing => None,
                    Sent::Queued(id) => Some(view! {
                        <p role="status">"Queued. " <a href=format!("/commands/{id}")>"Follow it"</a></p>
                    }.into_any()),
                    Sent::Refused(e) => Some(view! { <p class="error" role="alert">{e}</p> }.into_any()),
                }}
            </form>
        }.into_any()),
    }
    };
    let recent = live(StateClass::Commands, move || {
        let filter = client::CommandFilter {
            product: product_id.get_value(),
            limit: 10,
            ..Default::default()
        };
        async move { client::commands(&filter).await }
    });
    view! {
        <h2>"Commands"</h2>
        {form}
        {show(recent, "the product's commands", |p: CommandPage| commands_table(p.commands, false))}
    }
}
