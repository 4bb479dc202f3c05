//! cronwatch's shared crate: wire types used by both sides, the Leptos components,
//! and (behind the `ssr` feature) the data layer and server state.

pub mod error;
pub mod health;
pub mod model;
pub mod pages;
pub mod validate;

#[cfg(feature = "ssr")]
pub mod command_spec;
#[cfg(feature = "ssr")]
pub mod csp;
#[cfg(feature = "ssr")]
pub mod db;
#[cfg(feature = "ssr")]
pub mod http_call;
#[cfg(feature = "ssr")]
pub mod params;
#[cfg(feature = "ssr")]
pub mod schedule;
#[cfg(feature = "ssr")]
pub mod state;
#[cfg(feature = "ssr")]
pub mod throttle;
#[cfg(feature = "ssr")]
pub mod writer;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::StaticSegment;

/// The HTML shell rendered around every page. echarts is served from our own origin.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    csp::set_on_response();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <link rel="icon" href="data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E%3Ccircle cx='8' cy='8' r='7' fill='%232563eb'/%3E%3C/svg%3E"/>
                <script src="/assets/echarts.min.js" defer></script>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The root component: routes of the site.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Stylesheet id="cronwatch" href="/pkg/cronwatch.css"/>
        <Title text="cronwatch"/>
        <Router>
            <Routes fallback=|| view! { <p class="notfound">"Page not found."</p> }>
                <Route path=StaticSegment("") view=pages::home::HomePage/>
                <Route path=StaticSegment("login") view=pages::login::LoginPage/>
                <Route path=StaticSegment("monitoring") view=pages::monitoring::MonitoringPage/>
            </Routes>
        </Router>
    }
}
