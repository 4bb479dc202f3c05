import { expect, test } from "@playwright/test";

test("the first page renders on the server, hydrates, and draws a chart with our own echarts", async ({ page }) => {
  const foreign: string[] = [];
  page.on("request", (req) => {
    const url = new URL(req.url());
    if (url.hostname !== "127.0.0.1") foreign.push(req.url());
  });
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(String(e)));

  const resp = await page.goto("/");
  expect(resp?.status()).toBe(200);
  // Server-rendered HTML already has the heading before any script runs.
  expect(await resp?.text()).toContain("<h1>cronwatch</h1>");

  await expect(page.locator("[data-hydrated=true]")).toBeVisible();
  await expect(page.locator("#home-chart canvas")).toHaveCount(1);
  expect(await page.evaluate(() => typeof (window as any).echarts)).toBe("object");
  expect(foreign).toEqual([]);
  expect(errors).toEqual([]);
  await page.screenshot({ path: "test-results/home.png", fullPage: true });
});

test("echarts and the WASM bundle are served compressed from our origin", async ({ request }) => {
  for (const path of ["/assets/echarts.min.js", "/pkg/cronwatch_bg.wasm", "/pkg/cronwatch.js"]) {
    const r = await request.get(path, { headers: { "accept-encoding": "gzip" } });
    expect(r.status(), path).toBe(200);
    expect(r.headers()["content-encoding"], path).toBe("gzip");
  }
});

test("the WASM bundle stays within its budget of 400 KB gzip", async ({ request }) => {
  const r = await request.get("/pkg/cronwatch_bg.wasm", { headers: { "accept-encoding": "gzip" } });
  expect(r.headers()["content-encoding"]).toBe("gzip");
  const size = Number(r.headers()["content-length"]);
  console.log(`WASM bundle: ${size} B gzip`);
  expect(size).toBeGreaterThan(100_000);
  expect(size).toBeLessThanOrEqual(400_000);
});
