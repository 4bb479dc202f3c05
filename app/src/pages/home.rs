//! The landing page. A placeholder until the dashboard lands; it proves that the page
//! hydrates and that charts render with the echarts served from our own origin.

use leptos::prelude::*;

#[component]
pub fn HomePage() -> impl IntoView {
    // Set once the WASM has hydrated the page; the browser test waits for it.
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| {
        hydrated.set(true);
        #[cfg(feature = "hydrate")]
        draw_demo_chart();
    });
    view! {
        <main class="home">
            <h1>"cronwatch"</h1>
            <p>"Scheduled jobs and batch queues, watched live."</p>
            <p class="hydration" data-hydrated=move || hydrated.get().to_string()>
                {move || if hydrated.get() { "Live: the page is hydrated." } else { "Loading…" }}
            </p>
            <div id="home-chart" class="chart"></div>
        </main>
    }
}

/// Draws a small bar chart (charming → the echarts in the page).
#[cfg(feature = "hydrate")]
fn draw_demo_chart() {
    use charming::component::Axis;
    use charming::element::AxisType;
    use charming::series::Bar;

    let chart = crate::pages::echarts::BarChart {
        background_color: None,
        animation: false,
        legend: None,
        tooltip: None,
        grid: None,
        x_axis: Axis::new()
            .type_(AxisType::Category)
            .data(vec!["completed", "failed", "running"]),
        y_axis: Axis::new().type_(AxisType::Value),
        series: vec![Bar::new().data(vec![3, 1, 2])],
    };
    crate::pages::echarts::draw("home-chart", 240, &chart);
}
