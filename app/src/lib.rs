//! The Vigil console: Leptos components and routes (rendered on the node,
//! hydrated in the browser) and the API types both sides share.
//!
//! - [`api`]: JSON shapes of the HTTP API.
//! - [`state`]: the keep-alive state string.
//! - `client`: the typed browser client of the API; views call it, never
//!   `fetch` directly.
//! - `console`: the frame around signed-in pages and its keep-alive loop.
//! - `pages`: one module per page.

pub mod api;
pub mod failover;
pub mod params;
pub mod state;
pub mod time;

mod client;
mod console;
mod pages;

pub use console::ConsoleDefaults;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{ParamSegment, StaticSegment};

/// The HTML document around the app, rendered on the node. The node's
/// console defaults travel in a meta tag to the browser.
pub fn shell(options: LeptosOptions, console_defaults: String) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <link rel="icon" href="/favicon.ico"/>
                <meta name="vigil-console-defaults" content=console_defaults/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The console's routes.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // Effects never run during server rendering, so this attribute turns
    // "true" only once the WASM has taken over the page.
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    view! {
        <Stylesheet id="vigil" href="/pkg/vigil.css"/>
        <Title text="Vigil"/>
        <div id="app" data-hydrated=move || hydrated.get().to_string()>
            <Router>
                <Routes fallback=pages::NotFound>
                    <Route path=StaticSegment("") view=pages::dashboard::DashboardPage/>
                    <Route path=StaticSegment("login") view=pages::login::LoginPage/>
                    <Route path=StaticSegment("products") view=pages::products::ProductsPage/>
                    <Route path=(StaticSegment("products"), ParamSegment("id")) view=pages::product::ProductPage/>
                    <Route path=StaticSegment("commands") view=pages::commands::CommandsPage/>
                    <Route path=StaticSegment("audit") view=pages::audit::AuditPage/>
                    <Route path=(StaticSegment("commands"), ParamSegment("id")) view=pages::commands::CommandPage/>
                    <Route path=StaticSegment("content") view=pages::content::ContentPage/>
                    <Route path=StaticSegment("alerts") view=pages::alerts::AlertsPage/>
                    <Route path=StaticSegment("nodes") view=pages::nodes::NodesPage/>
                    <Route path=StaticSegment("settings") view=pages::settings::SettingsPage/>
                    <Route path=StaticSegment("users") view=pages::users::UsersPage/>
                </Routes>
            </Router>
        </div>
    }
}
