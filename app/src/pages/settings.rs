//! Console settings: the keep-alive parameters, changed on the fly. Every
//! change rewrites the URL, so the address bar is always a bookmark that
//! reproduces the behaviour.

use leptos::prelude::*;
use leptos_router::hooks::use_location;

use crate::console::{Console, ConsoleFrame};
use crate::params::ConsoleParams;
use crate::state::Watched;

#[component]
pub fn SettingsPage() -> impl IntoView {
    view! {
        <ConsoleFrame title="Settings">
            <SettingsForm/>
            <super::tokens::TokensCard/>
            <super::enrollment::EnrollmentCard/>
        </ConsoleFrame>
    }
}

#[component]
fn SettingsForm() -> impl IntoView {
    let console = expect_context::<Console>();
    let params = console.params;
    let location = use_location();
    let replace = super::filters::query_replacer();
    let apply = move |change: &dyn Fn(&mut ConsoleParams)| {
        let mut p = params.get_untracked();
        change(&mut p);
        replace(&p.merge_into(&location.search.get_untracked(), &console.defaults()));
    };
    let flag_apply = apply.clone();
    let flag = move |label: &'static str,
                     help: &'static str,
                     get: fn(&ConsoleParams) -> bool,
                     set: fn(&mut ConsoleParams, bool)| {
        let apply = flag_apply.clone();
        view! {
            <label class="check">
                <input
                    type="checkbox"
                    prop:checked=move || params.with(get)
                    on:change=move |ev| {
                        let on = event_target_checked(&ev);
                        apply(&|p| set(p, on));
                    }
                />
                <span>{label}</span>
                <small class="muted">{help}</small>
            </label>
        }
    };
    let number_apply = apply.clone();
    let number = move |label: &'static str,
                       help: &'static str,
                       get: fn(&ConsoleParams) -> u32,
                       set: fn(&mut ConsoleParams, u32)| {
        let apply = number_apply.clone();
        view! {
            <label>
                {label}
                <input
                    type="number"
                    min="1"
                    prop:value=move || params.with(get).to_string()
                    on:change=move |ev| {
                        if let Ok(n) = event_target_value(&ev).trim().parse::<u32>() {
                            apply(&|p| set(p, n));
                        }
                    }
                />
                <small class="muted">{help}</small>
            </label>
        }
    };
    let states_apply = apply;
    let bookmark = move || {
        format!(
            "{}{}",
            location.pathname.get(),
            match location.search.get() {
                s if s.is_empty() => String::new(),
                s if s.starts_with('?') => s,
                s => format!("?{s}"),
            }
        )
    };
    view! {
        <form class="card settings" on:submit=|ev| ev.prevent_default()>
            {flag("Run the keep-alive", "run — off: no keep-alive, no live refresh, no failover", |p| p.run, |p, v| p.run = v)}
            {flag("Send keep-alives", "poll — off: the machinery stays loaded but sends nothing", |p| p.poll, |p, v| p.poll = v)}
            {flag("Fail over automatically", "auto — off: you choose the next node in a dialog", |p| p.auto, |p, v| p.auto = v)}
            {number("Interval (seconds)", "interval — time between keep-alives", |p| p.interval_s, |p, v| p.interval_s = v.clamp(1, 3600))}
            {number("Failures before failover", "retry — failed keep-alives before the node is declared dead", |p| p.retry, |p, v| p.retry = v.clamp(1, 100))}
            <label>
                "Watched state positions"
                <input
                    type="text"
                    prop:value=move || params.with(|p| p.states.to_string())
                    on:change=move |ev| {
                        if let Some(w) = Watched::parse(&event_target_value(&ev)) {
                            states_apply(&|p| p.states = w.clone());
                        }
                    }
                />
                <small class="muted">"states — all, or positions like 0,2 (0 nodes, 1 products, 2 commands, 3 content, 4 alerts, 5 centralization)"</small>
            </label>
        </form>
        <p class="muted">"Bookmark this address to keep these settings: " <code>{bookmark}</code></p>
    }
}
