//! The sign-in form. It posts to `/auth/login` as a plain HTML form, so it works
//! before (and without) the WASM.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

#[component]
pub fn LoginPage() -> impl IntoView {
    let query = use_query_map();
    let error = move || {
        query.with(|q| match q.get("error").as_deref() {
            Some("invalid") => Some("Wrong user name or password."),
            Some("unavailable") => {
                Some("cronwatch cannot reach its database right now. Try again in a moment.")
            }
            _ => None,
        })
    };
    let next = move || query.with(|q| q.get("next").unwrap_or_else(|| "/monitoring".into()));
    view! {
        <main class="login">
            <form class="login-card" method="post" action="/auth/login">
                <h1>"cronwatch"</h1>
                <p class="muted">"Sign in to see your jobs."</p>
                {move || error().map(|e| view! { <p class="error" role="alert">{e}</p> })}
                <label>"User name" <input name="username" autocomplete="username" required autofocus/></label>
                <label>"Password" <input name="password" type="password" autocomplete="current-password" required/></label>
                <input type="hidden" name="next" prop:value=next/>
                <button type="submit">"Sign in"</button>
            </form>
        </main>
    }
}
