//! The user's API tokens on the Settings page: make one (its secret is
//! shown this once), see them all, revoke one. Scripts send a token as
//! `Authorization: Bearer vgt_…`.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{ApiToken, NewApiToken, UserRole};
use crate::client::{self, ClientError};
use crate::console::go_to_login;
use crate::time::format_utc;

type Tokens = RwSignal<Option<Result<Vec<ApiToken>, String>>>;

fn reload(tokens: Tokens) {
    spawn_local(async move {
        match client::tokens().await {
            Err(ClientError::Unauthorized) => go_to_login(),
            answer => tokens.set(Some(answer.map_err(|e| e.to_string()))),
        }
    });
}

#[component]
pub fn TokensCard() -> impl IntoView {
    let tokens: Tokens = RwSignal::new(None);
    let name = RwSignal::new(String::new());
    let days = RwSignal::new("90".to_owned());
    let role = RwSignal::new(String::new());
    let created = RwSignal::new(None::<String>);
    let failure = RwSignal::new(None::<String>);
    Effect::new(move |_| reload(tokens));
    let create = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let new = NewApiToken {
            name: name.get_untracked(),
            expires_in_days: days.get_untracked().parse().ok(),
            role: match role.get_untracked().as_str() {
                "operator" => Some(UserRole::Operator),
                "viewer" => Some(UserRole::Viewer),
                _ => None,
            },
        };
        failure.set(None);
        spawn_local(async move {
            match client::create_token(&new).await {
                Ok(made) => {
                    created.set(Some(made.token));
                    name.set(String::new());
                    reload(tokens);
                }
                Err(ClientError::Unauthorized) => go_to_login(),
                Err(e) => failure.set(Some(e.to_string())),
            }
        });
    };
    view! {
        <section class="card settings" aria-labelledby="tokens-title">
            <h2 id="tokens-title">"API tokens"</h2>
            <p class="muted">
                "Scripts send a token as " <code>"Authorization: Bearer vgt_…"</code>
                ". It acts for you, with your role or a narrower one, until it expires or you revoke it."
            </p>
            <form class="inline-form" on:submit=create>
                <label>
                    "Token name"
                    <input required maxlength="64" prop:value=move || name.get()
                        on:input=move |ev| name.set(event_target_value(&ev))/>
                </label>
                <label>
                    "Expires"
                    <select on:change=move |ev| days.set(event_target_value(&ev))>
                        <option value="30">"in 30 days"</option>
                        <option value="90" selected>"in 90 days"</option>
                        <option value="365">"in a year"</option>
                        <option value="never">"never"</option>
                    </select>
                </label>
                <label>
                    "Role"
                    <select on:change=move |ev| role.set(event_target_value(&ev))>
                        <option value="">"mine"</option>
                        <option value="operator">"operator"</option>
                        <option value="viewer">"viewer"</option>
                    </select>
                </label>
                <button type="submit">"Create token"</button>
            </form>
            {move || failure.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
            {move || created.get().map(|secret| view! {
                <p class="notice">
                    "New token (copy it now: it is not shown again): "
                    <code class="secret" aria-label="New token">{secret}</code>
                    " "
                    <button type="button" class="quiet" on:click=move |_| created.set(None)>"Done"</button>
                </p>
            })}
            {move || match tokens.get() {
                None => view! { <p class="muted">"Loading tokens…"</p> }.into_any(),
                Some(Err(e)) => view! { <p class="error" role="alert">{e}</p> }.into_any(),
                Some(Ok(list)) if list.is_empty() => {
                    view! { <p class="muted">"No tokens yet."</p> }.into_any()
                }
                Some(Ok(list)) => token_table(list, tokens, failure).into_any(),
            }}
        </section>
    }
}

fn token_table(
    list: Vec<ApiToken>,
    tokens: Tokens,
    failure: RwSignal<Option<String>>,
) -> impl IntoView {
    view! {
        <table class="grid tokens">
            <thead>
                <tr>
                    <th scope="col">"Name"</th>
                    <th scope="col">"Token"</th>
                    <th scope="col">"Role"</th>
                    <th scope="col">"Created (UTC)"</th>
                    <th scope="col">"Expires (UTC)"</th>
                    <th scope="col">"Status"</th>
                </tr>
            </thead>
            <tbody>
                {list.into_iter().map(|t| token_row(t, tokens, failure)).collect_view()}
            </tbody>
        </table>
    }
}

fn token_row(t: ApiToken, tokens: Tokens, failure: RwSignal<Option<String>>) -> impl IntoView {
    let id = t.id.clone();
    let revoke = move |_| {
        let id = id.clone();
        spawn_local(async move {
            match client::revoke_token(&id).await {
                Ok(()) => reload(tokens),
                Err(ClientError::Unauthorized) => go_to_login(),
                Err(e) => failure.set(Some(e.to_string())),
            }
        });
    };
    let status = match t.revoked_at {
        Some(at) => {
            view! { <span class="badge bad">{format!("revoked {}", format_utc(at))}</span> }
                .into_any()
        }
        None => view! {
            <button type="button" aria-label=format!("Revoke token {}", t.name) on:click=revoke>
                "Revoke"
            </button>
        }
        .into_any(),
    };
    view! {
        <tr>
            <th scope="row">{t.name.clone()}</th>
            <td><code>{t.prefix.clone()}</code></td>
            <td>{t.role.map_or("mine", UserRole::as_str)}</td>
            <td>{format_utc(t.created_at)}</td>
            <td>{t.expires_at.map_or_else(|| "never".to_owned(), format_utc)}</td>
            <td>{status}</td>
        </tr>
    }
}
