//! The sign-in page: a plain HTML form, so it works before the WASM loads.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

#[component]
pub fn LoginPage() -> impl IntoView {
    let query = use_query_map();
    let error = move || {
        query.read().get("error").map(|code| match code.as_str() {
            "invalid" => "Wrong user name or password.",
            "locked" => "Too many failed attempts. Wait a few minutes, then try again.",
            "busy" => "The node is busy signing people in. Try again in a moment.",
            "centralizing" => crate::api::centralize::SIGN_IN_DURING_CENTRALIZATION,
            "handoff" => "Your session could not be carried over to this node. Please sign in.",
            _ => "Sign-in failed on the node; see its log.",
        })
    };
    let next = move || query.read().get("next").unwrap_or_else(|| "/".into());
    view! {
        <main class="login">
            <form class="card login-card" method="post" action="/auth/login">
                <h1>"Vigil"</h1>
                <p class="muted">"Sign in to the management console"</p>
                {move || error().map(|e| view! { <p class="error" role="alert">{e}</p> })}
                <label>
                    "User name"
                    <input name="username" autocomplete="username" required autofocus/>
                </label>
                <label>
                    "Password"
                    <input type="password" name="password" autocomplete="current-password" required/>
                </label>
                <input type="hidden" name="next" value=next/>
                <button type="submit">"Sign in"</button>
            </form>
        </main>
    }
}
