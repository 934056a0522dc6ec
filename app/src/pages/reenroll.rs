//! The product page's re-enrolment control (admins): revokes the product's
//! key on every node and lets its next registration with the enrollment
//! secret take it over, e.g. after the device was reinstalled and lost its
//! key, or when the key may have leaked.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::UserRole;
use crate::client::{self, ClientError};
use crate::console::go_to_login;

/// Where the control stands.
#[derive(Clone, Debug, PartialEq)]
enum Step {
    Idle,
    Confirming,
    Done,
    Failed(String),
}

#[component]
pub fn Reenroll(product: String) -> impl IntoView {
    let is_admin = RwSignal::new(false);
    Effect::new(move |_| {
        spawn_local(async move {
            match client::me().await {
                Ok(me) => is_admin.set(me.role == UserRole::Admin),
                Err(ClientError::Unauthorized) => go_to_login(),
                Err(_) => is_admin.set(false),
            }
        });
    });
    let step = RwSignal::new(Step::Idle);
    let product_id = StoredValue::new(product);
    let confirm = move |_| {
        spawn_local(async move {
            match client::reenroll_product(&product_id.get_value()).await {
                Ok(_) => step.set(Step::Done),
                Err(ClientError::Unauthorized) => go_to_login(),
                Err(e) => step.set(Step::Failed(e.to_string())),
            }
        });
    };
    let body = move || {
        match step.get() {
        Step::Idle => view! {
            <button type="button" on:click=move |_| step.set(Step::Confirming)>"Re-enroll"</button>
        }
        .into_any(),
        Step::Confirming => view! {
            <span role="group" aria-label="Confirm re-enrolment">
                "The product's key stops working on every node at once; its next registration with the enrollment secret gets a new one. "
                <button type="button" on:click=confirm>"Revoke key and re-enroll"</button>
                " "
                <button type="button" class="quiet" on:click=move |_| step.set(Step::Idle)>"Cancel"</button>
            </span>
        }
        .into_any(),
        Step::Done => view! {
            <span role="status">"Key revoked. The product can now register again with the enrollment secret."</span>
        }
        .into_any(),
        Step::Failed(e) => view! { <span class="error" role="alert">{e}</span> }.into_any(),
    }
    };
    view! {
        {move || is_admin.get().then(|| view! {
            <section class="card" aria-labelledby="reenroll-title">
                <h2 id="reenroll-title">"Re-enrolment"</h2>
                <p>{body}</p>
            </section>
        })}
    }
}
