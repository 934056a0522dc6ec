//! The one-click investigations of a product page: one button each (the
//! user's own and the Global ones), run with `@product` bound to it.

use leptos::prelude::*;

use super::content::results::{Results, RunSpec, Target};
use super::live::live;
use crate::api::content::ItemKind;
use crate::client::content as api;
use crate::state::StateClass;

#[component]
pub fn OneClicks(product: String) -> impl IntoView {
    let trees = live(StateClass::Content, api::trees);
    let run = RwSignal::new(None::<RunSpec>);
    let nonce = StoredValue::new(0u32);
    let buttons = move || {
        let Some(Ok(trees)) = trees.get() else {
            return None;
        };
        let items: Vec<_> = trees
            .items
            .into_iter()
            .filter(|i| i.kind == ItemKind::OneClick)
            .collect();
        if items.is_empty() {
            return None;
        }
        let product = product.clone();
        Some(view! {
            <section class="card" aria-label="One-click investigations">
                <h2>"One-click investigations"</h2>
                <div class="pager">
                    {items.into_iter().map(|i| {
                        let (id, name, product) = (i.id.clone(), i.name.clone(), product.clone());
                        view! {
                            <button type="button" on:click=move |_| {
                                nonce.update_value(|n| *n += 1);
                                run.set(Some(RunSpec {
                                    target: Target::Saved { id: id.clone(), name: name.clone() },
                                    product: Some(product.clone()),
                                    nonce: nonce.get_value(),
                                }));
                            }>{i.name.clone()}</button>
                        }
                    }).collect_view()}
                </div>
                {move || run.get().is_some().then(|| view! { <Results spec=Signal::derive(move || run.get())/> })}
            </section>
        })
    };
    view! { {buttons} }
}
