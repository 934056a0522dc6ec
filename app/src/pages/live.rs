//! Data that a page keeps fresh: fetched once, then again whenever the state
//! counter of its class moves (or its own inputs change).

use std::future::Future;

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::client::ClientError;
use crate::console::{go_to_login, Console};
use crate::state::StateClass;

/// `None` while loading, then the latest answer (or the error to show).
pub type Live<T> = RwSignal<Option<Result<T, String>>>;

/// Fetches with `fetch` now and on every change of `class` or of the
/// signals `fetch` reads. The latest request wins: an answer to an older
/// one that arrives after it (a slow node, a changed filter) is dropped.
pub fn live<T, F, Fut>(class: StateClass, fetch: F) -> Live<T>
where
    T: Send + Sync + 'static,
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<T, ClientError>> + 'static,
{
    live_on(&[class], fetch)
}

/// [`live`] for data that shows several classes: refetched when any of
/// their counters moves.
pub fn live_on<T, F, Fut>(classes: &[StateClass], fetch: F) -> Live<T>
where
    T: Send + Sync + 'static,
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<T, ClientError>> + 'static,
{
    let console = expect_context::<Console>();
    let watched: Vec<_> = classes.iter().map(|c| console.watch(*c)).collect();
    let changed = Memo::new(move |_| watched.iter().map(|w| w.get()).collect::<Vec<_>>());
    let data: Live<T> = RwSignal::new(None);
    let latest = StoredValue::new(0u64);
    Effect::new(move |_| {
        changed.get();
        let request = fetch();
        let mine = latest.get_value() + 1;
        latest.set_value(mine);
        spawn_local(async move {
            let answer = request.await;
            if latest.try_get_value() != Some(mine) {
                return; // a newer request was sent meanwhile
            }
            match answer {
                Err(ClientError::Unauthorized) => go_to_login(),
                answer => {
                    data.try_set(Some(answer.map_err(|e| e.to_string())));
                }
            }
        });
    });
    data
}

/// Loading text, an error, or the view of the data.
pub fn show<T: Clone + Send + Sync + 'static, V: IntoView + 'static>(
    data: Live<T>,
    what: &'static str,
    view: impl Fn(T) -> V + Send + Sync + 'static,
) -> impl IntoView {
    move || match data.get() {
        None => view! { <p class="muted">{format!("Loading {what}…")}</p> }.into_any(),
        Some(Err(e)) => view! { <p class="error" role="alert">{e}</p> }.into_any(),
        Some(Ok(value)) => view(value).into_any(),
    }
}

/// "Showing 1–100 of N <what>" for a page starting at `start`.
pub fn page_summary(start: i64, shown: i64, total: i64, what: &str) -> String {
    if total == 0 {
        format!("No {what}s match")
    } else {
        format!(
            "Showing {}–{} of {total} {what}(s)",
            start + 1,
            start + shown
        )
    }
}

/// Previous / Next buttons moving `offset` by `page`.
pub fn pager(offset: RwSignal<i64>, shown: i64, total: i64, page: i64) -> impl IntoView {
    let start = offset.get_untracked();
    let (first, last) = (start == 0, start + shown >= total);
    view! {
        <div class="pager">
            <button type="button" disabled=first on:click=move |_| offset.update(|o| *o = (*o - page).max(0))>
                "Previous"
            </button>
            <button type="button" disabled=last on:click=move |_| offset.update(|o| *o += page)>
                "Next"
            </button>
        </div>
    }
}
