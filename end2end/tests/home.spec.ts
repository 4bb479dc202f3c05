import { expect, test } from "@playwright/test";
import { signIn, token } from "./helpers";

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

test("the Content-Security-Policy lets our pages work and stops a script injected into them", async ({ page, request }) => {
  // Collected from the first moment of every page (init scripts are not subject to CSP).
  await page.addInitScript(() => {
    (window as any).__csp = [];
    document.addEventListener("securitypolicyviolation", (e) =>
      (window as any).__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  const violations = () => page.evaluate(() => (window as any).__csp as string[]);

  const home = await page.goto("/");
  expect(home?.headers()["content-security-policy"]).toContain("'nonce-");
  await expect(page.locator("[data-hydrated=true]")).toBeVisible();
  await expect(page.locator("#home-chart canvas")).toHaveCount(1);
  expect(await violations()).toEqual([]);

  // Signed in: the live dashboard (stream, chart, a run's details) works under the policy.
  const auth = { Authorization: `Bearer ${token("ingest")}` };
  const s = await request.post("/api/v1/executions/start", { headers: auth, data: { job: "e2e-csp" } });
  const id = (await s.json()).id;
  await signIn(page);
  await expect(page.locator("#timeline-chart canvas")).toHaveCount(1);
  await request.post(`/api/v1/executions/${id}/complete`, { headers: auth, data: { status: "completed", output: { ok: true } } });
  const row = page.locator(`tr[data-execution="${id}"]`);
  await expect(row.locator(".badge")).toHaveText("completed");
  await row.click();
  await expect(page.getByRole("dialog").locator("pre.json")).toContainText('"ok": true');
  // The chart's tooltip (inline styles) on hover.
  const box = (await page.locator("#timeline-chart canvas").boundingBox())!;
  await page.mouse.move(box.x + box.width - 40, box.y + box.height - 60);
  expect(await violations()).toEqual([]);

  // Markup that slipped past escaping could not run a script.
  const ran = await page.evaluate(() => {
    const s = document.createElement("script");
    s.textContent = "window.__injected = true";
    document.body.appendChild(s);
    return (window as any).__injected === true;
  });
  expect(ran).toBe(false);
  expect((await violations()).some((v) => v.startsWith("script-src"))).toBe(true);
});
