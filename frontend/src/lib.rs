//! The WASM entry point: hydrates the server-rendered page. Nothing else lives here.

// Deeply nested view types of the dashboard need a deeper query limit to compile.
#![recursion_limit = "256"]

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}
