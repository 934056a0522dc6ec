//! The enrollment secret on the settings page: admins see it and rotate it
//! for the whole cluster; other users are told who can.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{EnrollmentSecret, UserRole};
use crate::client::{self, ClientError};
use crate::console::go_to_login;
use crate::time::format_utc;

/// What the card shows.
#[derive(Clone, Debug, PartialEq)]
enum Card {
    Loading,
    NotAdmin,
    Secret(EnrollmentSecret),
    Failed(String),
}

fn settle(card: RwSignal<Card>, answer: Result<EnrollmentSecret, ClientError>) {
    match answer {
        Ok(secret) => card.set(Card::Secret(secret)),
        Err(ClientError::Unauthorized) => go_to_login(),
        Err(e) => card.set(Card::Failed(e.to_string())),
    }
}

#[component]
pub fn EnrollmentCard() -> impl IntoView {
    let card = RwSignal::new(Card::Loading);
    let shown = RwSignal::new(false);
    let confirming = RwSignal::new(false);
    Effect::new(move |_| {
        spawn_local(async move {
            match client::me().await {
                Ok(me) if me.role == UserRole::Admin => settle(card, client::enrollment().await),
                Ok(_) => card.set(Card::NotAdmin),
                Err(ClientError::Unauthorized) => go_to_login(),
                Err(e) => card.set(Card::Failed(e.to_string())),
            }
        });
    });
    let rotate = move |_| {
        confirming.set(false);
        spawn_local(async move {
            settle(card, client::rotate_enrollment().await);
            shown.set(true);
        });
    };
    let body = move || {
        match card.get() {
        Card::Loading => view! { <p class="muted">"Loading…"</p> }.into_any(),
        Card::NotAdmin => {
            view! { <p class="muted">"Only admins can see or rotate the enrollment secret."</p> }
                .into_any()
        }
        Card::Failed(e) => view! { <p class="error" role="alert">{e}</p> }.into_any(),
        Card::Secret(s) => view! {
            <p>
                "Secret: "
                <code class="secret" aria-label="Enrollment secret">
                    {move || if shown.get() { s.secret.clone() } else { "•".repeat(16) }}
                </code>
                " "
                <button type="button" class="quiet" on:click=move |_| shown.update(|v| *v = !*v)>
                    {move || if shown.get() { "Hide secret" } else { "Show secret" }}
                </button>
            </p>
            <p class="muted">{format!("Set by {} on {} UTC", s.updated_by, format_utc(s.updated_at))}</p>
        }
        .into_any(),
    }
    };
    view! {
        <section class="card settings" aria-labelledby="enrollment-title">
            <h2 id="enrollment-title">"Enrollment secret"</h2>
            <p class="muted">
                "Products present it to register, devices to ask for provisioning. Registered products keep their own keys; rotating only affects new enrollments."
            </p>
            {body}
            {move || matches!(card.get(), Card::Secret(_)).then(|| view! {
                <p>
                    {move || if confirming.get() {
                        view! {
                            <span role="group" aria-label="Confirm rotation">
                                "Products that have not enrolled yet will need the new secret. "
                                <button type="button" on:click=rotate>"Rotate now"</button>
                                " "
                                <button type="button" class="quiet" on:click=move |_| confirming.set(false)>"Cancel"</button>
                            </span>
                        }.into_any()
                    } else {
                        view! { <button type="button" on:click=move |_| confirming.set(true)>"Rotate secret"</button> }.into_any()
                    }}
                </p>
            })}
        </section>
    }
}
