import { execFileSync } from "node:child_process";
import { expect, test } from "@playwright/test";
import { ADMIN_PASSWORD, signIn, token } from "./helpers";

const ingestToken = () => token("ingest");

/** POSTs `body` with curl, as a cron's shell script would; returns the JSON answer. */
function curl(url: string, token: string, body: unknown): any {
  const out = execFileSync("curl", ["-sS", "-f", "-X", "POST", url, "-H", `Authorization: Bearer ${token}`,
    "-H", "Content-Type: application/json", "-d", JSON.stringify(body)]).toString();
  return JSON.parse(out);
}

test("reports appear live, flip in place, and their output is shown as text", async ({ page, request, baseURL }) => {
  const token = ingestToken();
  const auth = { Authorization: `Bearer ${token}` };
  const dialogs: string[] = [];
  page.on("dialog", (d) => {
    dialogs.push(d.message());
    d.dismiss();
  });

  await page.goto("/login");
  await page.getByLabel("User name").fill("admin");
  await page.getByLabel("Password").fill(ADMIN_PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/monitoring$/);
  await expect(page.locator(".live-indicator[data-live=true]")).toBeVisible();
  const running = Number(await page.locator("[data-kpi=running]").innerText());

  const id = curl(`${baseURL}/api/v1/executions/start`, token, { job: "e2e-live" }).id as string;
  const row = page.locator(`tr[data-execution="${id}"]`);
  await expect(row).toBeVisible({ timeout: 2000 });
  await expect(row.locator(".badge")).toHaveText("running");
  await expect(page.locator("[data-kpi=running]")).toHaveText(String(running + 1), { timeout: 2000 });
  await expect(page.locator("table.jobs")).toContainText("e2e-live");

  const evil = "<script>alert(1)</script><img src=x onerror=alert(1)>";
  const done = curl(`${baseURL}/api/v1/executions/${id}/complete`, token, {
    status: "failed", exit_code: 2, error_message: evil, output: { note: evil, analyzed_count: 100 },
  });
  expect(done.status).toBe("failed");
  await expect(row.locator(".badge")).toHaveText("failed", { timeout: 2000 });
  await expect(page.locator("[data-kpi=running]")).toHaveText(String(running), { timeout: 2000 });

  await row.click();
  const modal = page.getByRole("dialog");
  await expect(modal.locator("pre.json")).toContainText('"analyzed_count": 100');
  await expect(modal.locator("pre.json")).toContainText("<script>alert(1)</script>");
  await expect(modal.locator("pre.error-text")).toHaveText(evil);
  await expect(page.locator("img[src=x]")).toHaveCount(0);
  await page.keyboard.press("Escape");
  await expect(modal).toHaveCount(0);

  const batch = await request.post("/api/v1/batches/kb-indexation", {
    headers: auth,
    data: { pending: 12, processing: 2, completed_today: 30, failed_today: 1 },
  });
  expect(batch.status()).toBe(200);
  await expect(page.locator('[data-batch="kb-indexation"]')).toBeVisible({ timeout: 2000 });

  // The 7-day chart is drawn by echarts (canvas) and holds today's runs.
  await expect(page.locator("#timeline-chart canvas")).toHaveCount(1);
  const todays = await page.evaluate(() => {
    const echarts = (window as any).echarts;
    const chart = echarts.getInstanceByDom(document.getElementById("timeline-chart"));
    const series = chart.getOption().series as { name: string; data: { value: number }[] }[];
    return series.reduce((sum, s) => sum + s.data[s.data.length - 1].value, 0);
  });
  expect(todays).toBeGreaterThan(0);

  expect(dialogs).toEqual([]);
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.screenshot({ path: "test-results/dashboard-desktop.png", fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: "test-results/dashboard-390.png", fullPage: true });
});

test("filters live in the URL and survive a reload", async ({ page, request }) => {
  const token = ingestToken();
  const auth = { Authorization: `Bearer ${token}` };
  for (const [job, status] of [["filter-ok", "completed"], ["filter-bad", "failed"]]) {
    const s = await request.post("/api/v1/executions/start", { headers: auth, data: { job } });
    const id = (await s.json()).id;
    await request.post(`/api/v1/executions/${id}/complete`, { headers: auth, data: { status } });
  }
  await page.goto("/login");
  await page.getByLabel("User name").fill("admin");
  await page.getByLabel("Password").fill(ADMIN_PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.locator(".live-indicator[data-live=true]")).toBeVisible();

  await page.locator("select[name=status]").selectOption("failed");
  await expect(page).toHaveURL(/\/monitoring\?tab=crons&status=failed$/);
  const table = page.locator("table.executions");
  await expect(table).toContainText("filter-bad");
  await expect(table).not.toContainText("filter-ok");

  await page.reload();
  await expect(page.locator("select[name=status]")).toHaveValue("failed");
  await expect(table).toContainText("filter-bad");
  await expect(table).not.toContainText("filter-ok");
  await expect(table.locator(".badge")).toHaveText(Array(await table.locator(".badge").count()).fill("failed"));
});

test("the chart filters by job and status and names the average duration on hover", async ({ page, request }) => {
  const auth = { Authorization: `Bearer ${ingestToken()}` };
  for (const [job, status, ms] of [["chart-a", "completed", 1500], ["chart-b", "failed", 4000]] as const) {
    const s = await request.post("/api/v1/executions/start", { headers: auth, data: { job } });
    const id = (await s.json()).id;
    await request.post(`/api/v1/executions/${id}/complete`, { headers: auth, data: { status, duration_ms: ms } });
  }
  await signIn(page);
  const today = () =>
    page.evaluate(() => {
      const chart = (window as any).echarts.getInstanceByDom(document.getElementById("timeline-chart"));
      const out: Record<string, { value: number; name: string }> = {};
      for (const s of chart.getOption().series) out[s.name] = s.data[s.data.length - 1];
      return out;
    });
  await page.locator("select[name=chart-job]").selectOption("chart-a");
  await expect.poll(async () => (await today()).failed.value).toBe(0);
  expect((await today()).completed.value).toBe(1);
  expect((await today()).completed.name).toContain("avg 1.5 s");
  await page.locator("select[name=chart-job]").selectOption("chart-b");
  await page.locator("select[name=chart-status]").selectOption("failed");
  await expect.poll(async () => (await today()).failed.value).toBe(1);
  expect((await today()).failed.name).toContain("avg 4.0 s");
  expect((await today()).completed.value).toBe(0);
  // The tooltip shows it when the bar is hovered.
  const box = (await page.locator("#timeline-chart canvas").boundingBox())!;
  const bar = await page.evaluate(() => {
    const chart = (window as any).echarts.getInstanceByDom(document.getElementById("timeline-chart"));
    const failed = chart.getOption().series.findIndex((s: any) => s.name === "failed");
    return chart.convertToPixel({ seriesIndex: failed }, [6, 0.5]);
  });
  await page.mouse.move(box.x + bar[0], box.y + bar[1]);
  await expect(page.locator("#timeline-chart")).toContainText("avg 4.0 s");
});
