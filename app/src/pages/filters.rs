//! Page filters kept in the address bar, so a filtered view is a bookmark
//! and survives a reload or a failover (which keeps path and query).

use leptos::prelude::*;
use leptos_router::hooks::{use_location, use_navigate, use_query_map};
use leptos_router::NavigateOptions;

use crate::params::with_pairs;

/// A text filter read from the query key `key` (empty when absent).
pub fn from_query(key: &'static str) -> RwSignal<String> {
    let query = use_query_map();
    RwSignal::new(query.read_untracked().get(key).unwrap_or_default())
}

/// A function that replaces the page's query (same path, no new history
/// entry, no scrolling): the address bar always shows what the page shows.
pub fn query_replacer() -> impl Fn(&str) + Clone + 'static {
    let location = use_location();
    let navigate = use_navigate();
    move |query: &str| {
        let path = location.pathname.get_untracked();
        let url = if query.is_empty() {
            path
        } else {
            format!("{path}?{query}")
        };
        navigate(
            &url,
            NavigateOptions {
                replace: true,
                scroll: false,
                ..Default::default()
            },
        );
    }
}

/// Rewrites the URL whenever one of the filters changes; each is written
/// under its key, empty ones are left out.
pub fn keep_in_url(filters: Vec<(&'static str, RwSignal<String>)>) {
    let location = use_location();
    let replace = query_replacer();
    Effect::new(move |_| {
        let set: Vec<(&str, String)> = filters.iter().map(|(k, v)| (*k, v.get())).collect();
        let search = location.search.get_untracked();
        let query = with_pairs(&search, &set);
        if query != search.trim_start_matches('?') {
            replace(&query);
        }
    });
}

/// A search box for one filter kept in the URL; a change goes back to the
/// first page.
pub fn text_filter(
    label: &'static str,
    hint: &'static str,
    value: RwSignal<String>,
    offset: RwSignal<i64>,
) -> impl IntoView {
    view! {
        <label class="inline">
            {label}
            <input type="search" placeholder=hint prop:value=move || value.get()
                on:change=move |ev| { value.set(event_target_value(&ev)); offset.set(0); }/>
        </label>
    }
}
