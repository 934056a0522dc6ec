//! Console users, for admins: who may sign in and with which role; add,
//! change a role, remove. Others are told who can.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{NewUser, UserRole, UserSummary};
use crate::client::{self, ClientError};
use crate::console::{go_to_login, ConsoleFrame};
use crate::time::format_utc;

#[component]
pub fn UsersPage() -> impl IntoView {
    view! {
        <ConsoleFrame title="Users">
            <Users/>
        </ConsoleFrame>
    }
}

fn role_of(text: &str) -> UserRole {
    match text {
        "admin" => UserRole::Admin,
        "operator" => UserRole::Operator,
        _ => UserRole::Viewer,
    }
}

/// Runs a call, then reloads the list; an error is shown in `message`.
fn act<F>(
    call: F,
    list: RwSignal<Option<Result<Vec<UserSummary>, String>>>,
    message: RwSignal<Option<String>>,
    done: &'static str,
) where
    F: std::future::Future<Output = Result<(), ClientError>> + 'static,
{
    spawn_local(async move {
        match call.await {
            Ok(()) => message.set(Some(done.to_string())),
            Err(ClientError::Unauthorized) => return go_to_login(),
            Err(e) => message.set(Some(format!("Refused: {e}"))),
        }
        reload(list);
    });
}

fn reload(list: RwSignal<Option<Result<Vec<UserSummary>, String>>>) {
    spawn_local(async move {
        match client::users().await {
            Err(ClientError::Unauthorized) => go_to_login(),
            answer => list.set(Some(answer.map_err(|e| e.to_string()))),
        }
    });
}

#[component]
fn Users() -> impl IntoView {
    let list = RwSignal::new(None::<Result<Vec<UserSummary>, String>>);
    let message = RwSignal::new(None::<String>);
    Effect::new(move |_| reload(list));
    let (name, password, role) = (
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
        RwSignal::new("viewer".to_string()),
    );
    let add = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let user = NewUser {
            username: name.get_untracked(),
            password: password.get_untracked(),
            role: role_of(&role.get_untracked()),
        };
        act(
            async move { client::add_user(&user).await.map(|_| ()) },
            list,
            message,
            "User added.",
        );
        name.set(String::new());
        password.set(String::new());
    };
    let table = move || {
        match list.get() {
        None => view! { <p class="muted">"Loading users…"</p> }.into_any(),
        Some(Err(e)) if e.contains("403") => {
            view! { <p class="muted">"Only admins manage users."</p> }.into_any()
        }
        Some(Err(e)) => view! { <p class="error" role="alert">{e}</p> }.into_any(),
        Some(Ok(users)) => view! {
            <table class="grid" aria-label="Users">
                <thead><tr><th scope="col">"User"</th><th scope="col">"Role"</th><th scope="col">"Manages Global content"</th><th scope="col">"Added (UTC)"</th><th scope="col">""</th></tr></thead>
                <tbody>
                    {users.into_iter().map(|u| {
                        let (for_role, for_remove, for_global) = (u.username.clone(), u.username.clone(), u.username.clone());
                        let viewer = u.role == UserRole::Viewer;
                        view! {
                            <tr>
                                <th scope="row">{u.username.clone()}</th>
                                <td>
                                    <select aria-label=format!("Role of {}", u.username)
                                        prop:value=u.role.as_str()
                                        on:change=move |ev| {
                                            let (name, role) = (for_role.clone(), role_of(&event_target_value(&ev)));
                                            act(async move { client::set_user_role(&name, role).await }, list, message, "Role changed.");
                                        }>
                                        <option value="admin">"admin"</option>
                                        <option value="operator">"operator"</option>
                                        <option value="viewer">"viewer"</option>
                                    </select>
                                </td>
                                <td>
                                    <input type="checkbox" aria-label=format!("{} manages Global content", u.username)
                                        prop:checked=u.manage_global_content disabled=viewer
                                        on:change=move |ev| {
                                            let (name, granted) = (for_global.clone(), event_target_checked(&ev));
                                            act(async move { client::set_manage_global(&name, granted).await }, list, message, "Permission changed.");
                                        }/>
                                </td>
                                <td>{format_utc(u.created_at)}</td>
                                <td>
                                    <button type="button" class="quiet" aria-label=format!("Remove {}", u.username)
                                        on:click=move |_| {
                                            let name = for_remove.clone();
                                            act(async move { client::remove_user(&name).await }, list, message, "User removed.");
                                        }>"Remove"</button>
                                </td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
            <form class="card settings" aria-label="Add a user" on:submit=add>
                <label>"User name" <input prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev)) required/></label>
                <label>"Password (12 characters or more)" <input type="password" autocomplete="new-password" prop:value=move || password.get() on:input=move |ev| password.set(event_target_value(&ev)) required/></label>
                <label>"Role"
                    <select prop:value=move || role.get() on:change=move |ev| role.set(event_target_value(&ev))>
                        <option value="viewer">"viewer"</option>
                        <option value="operator">"operator"</option>
                        <option value="admin">"admin"</option>
                    </select>
                </label>
                <button type="submit">"Add user"</button>
            </form>
        }
        .into_any(),
    }
    };
    view! {
        {move || message.get().map(|m| view! { <p role="status" class="summary">{m}</p> })}
        {table}
    }
}
