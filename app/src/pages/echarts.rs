//! Draws charts made of charming's types with the echarts served from our own origin
//! (`/assets`). The option reaches echarts as JSON: charming's own WASM renderer would
//! bring a second serializer into the bundle for the same result.

use charming::component::{Axis, Grid, Legend};
use charming::element::Tooltip;
use charming::series::Bar;
use wasm_bindgen::prelude::*;

/// An echarts option of bar series, made of charming's components. Not charming's
/// `Chart`: serialising that compiles in a serializer for every kind of series echarts
/// knows (its `serialize` alone was 59 KB of our WASM); our charts are bars.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BarChart {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub background_color: Option<&'static str>,
    pub animation: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub legend: Option<Legend>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tooltip: Option<Tooltip>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grid: Option<Grid>,
    pub x_axis: Axis,
    pub y_axis: Axis,
    pub series: Vec<Bar>,
}

#[wasm_bindgen]
extern "C" {
    type Instance;
    #[wasm_bindgen(js_namespace = echarts, js_name = init)]
    fn init(el: &web_sys::Element, theme: JsValue, opts: JsValue) -> Instance;
    #[wasm_bindgen(js_namespace = echarts, js_name = getInstanceByDom)]
    fn instance_of(el: &web_sys::Element) -> Option<Instance>;
    #[wasm_bindgen(method, js_name = setOption)]
    fn set_option(this: &Instance, option: JsValue);
    #[wasm_bindgen(method)]
    fn resize(this: &Instance);
}

/// Draws `chart` into the element `id` (its width, `height` px), or updates the chart
/// already there in place.
pub fn draw(id: &str, height: u32, chart: &BarChart) {
    let Some(el) = leptos::prelude::document().get_element_by_id(id) else {
        return;
    };
    let Some(option) = serde_json::to_string(chart)
        .ok()
        .and_then(|json| js_sys::JSON::parse(&json).ok())
    else {
        return;
    };
    let instance = instance_of(&el).unwrap_or_else(|| {
        let size = js_sys::JSON::parse(&format!(r#"{{"height":{height}}}"#)).unwrap_or_default();
        // echarts' built-in dark theme gives light text and axes on our dark panels.
        let theme = if prefers_dark() {
            JsValue::from_str("dark")
        } else {
            JsValue::NULL
        };
        init(&el, theme, size)
    });
    instance.set_option(option);
}

fn prefers_dark() -> bool {
    leptos::prelude::window()
        .match_media("(prefers-color-scheme: dark)")
        .ok()
        .flatten()
        .is_some_and(|m| m.matches())
}

/// Fits the chart in element `id` to its element's new width.
pub fn resize(id: &str) {
    if let Some(instance) = leptos::prelude::document()
        .get_element_by_id(id)
        .and_then(|el| instance_of(&el))
    {
        instance.resize();
    }
}
