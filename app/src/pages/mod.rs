//! One module per console page.

pub mod alerts;
pub mod audit;
mod centralization;
mod chart;
pub mod commands;
pub mod content;
pub mod dashboard;
mod enrollment;
mod filters;
mod live;
pub mod login;
pub mod nodes;
mod oneclick;
pub mod product;
pub mod products;
mod reenroll;
mod send_command;
pub mod settings;
mod tokens;
pub mod users;

use leptos::prelude::*;

/// Shown for paths the console does not know.
#[component]
pub fn NotFound() -> impl IntoView {
    view! {
        <main class="page">
            <h1>"Page not found"</h1>
            <p><a href="/">"Back to the console"</a></p>
        </main>
    }
}
