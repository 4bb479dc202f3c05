import { execFileSync } from "node:child_process";
import { expect, test } from "@playwright/test";
import { ADMIN_PASSWORD, signIn, submitSignIn, token } from "./helpers";

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

  await signIn(page);
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
  // Why it failed shows in the row, as text.
  await expect(row.locator("[data-field=error]")).toHaveText(evil);
  await expect(page.locator("[data-kpi=running]")).toHaveText(String(running), { timeout: 2000 });

  await row.click();
  const modal = page.getByRole("dialog");
  await expect(modal.locator("pre.json")).toContainText('"analyzed_count": 100');
  await expect(modal.locator("pre.json")).toContainText("<script>alert(1)</script>");
  await expect(modal.locator("pre.error-text")).toHaveText(evil);
  await expect(page.locator("img[src=x]")).toHaveCount(0);
  await expect(modal).toContainText("· Ended ");
  await page.keyboard.press("Escape");
  await expect(modal).toHaveCount(0);

  // A running run has no end and says it has no output (not a JSON `null`). Left open,
  // its details follow it live when it ends.
  const quiet = curl(`${baseURL}/api/v1/executions/start`, token, { job: "e2e-live" }).id as string;
  await page.locator(`tr[data-execution="${quiet}"]`).click();
  await expect(modal).toContainText("No output reported.");
  await expect(modal.locator("pre.json")).toHaveCount(0);
  await expect(modal).not.toContainText("Ended");
  await expect(modal.locator("h2 .badge")).toHaveText("running");
  curl(`${baseURL}/api/v1/executions/${quiet}/complete`, token, { status: "completed", output: { rows: 7 } });
  await expect(modal.locator("h2 .badge")).toHaveText("completed", { timeout: 2000 });
  await expect(modal).toContainText("· Ended ");
  await expect(modal.locator("pre.json")).toContainText('"rows": 7');
  await page.keyboard.press("Escape");

  const batch = await request.post("/api/v1/batches/kb-indexation", {
    headers: auth,
    data: { pending: 12, processing: 2, completed_today: 30, failed_today: 1 },
  });
  expect(batch.status()).toBe(200);
  const card = page.locator('[data-batch="kb-indexation"]');
  await expect(card).toBeVisible({ timeout: 2000 });
  // When its worker last reported: a queue that stops moving says so.
  await expect(card.locator("[data-field=reported]")).toHaveText(/^(just now|\d+ s ago)$/);

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
  await signIn(page);

  // The filters sit below the jobs and the chart: changing one keeps them in view.
  await page.setViewportSize({ width: 1280, height: 400 });
  await page.locator("select[name=status]").scrollIntoViewIfNeeded();
  const scrolled = await page.evaluate(() => window.scrollY);
  expect(scrolled).toBeGreaterThan(0);
  await page.locator("select[name=status]").selectOption("failed");
  await expect(page).toHaveURL(/\/monitoring\?tab=crons&status=failed$/);
  const table = page.locator("table.executions");
  await expect(table).toContainText("filter-bad");
  await expect(table).not.toContainText("filter-ok");
  expect(await page.evaluate(() => window.scrollY)).toBe(scrolled);
  await expect(page.locator("select[name=status]")).toBeInViewport();

  await page.reload();
  await expect(page.locator("select[name=status]")).toHaveValue("failed");
  await expect(table).toContainText("filter-bad");
  await expect(table).not.toContainText("filter-ok");
  await expect(table.locator(".badge")).toHaveText(Array(await table.locator(".badge").count()).fill("failed"));
  await expect(page.locator("[data-empty=executions]")).toBeHidden();
  // A view nothing matches says so, rather than showing a bare table.
  await page.locator("select[name=trigger]").selectOption("retry");
  await expect(table.locator("tbody tr")).toHaveCount(0);
  await expect(page.locator("[data-empty=executions]")).toBeVisible();
  await expect(page.locator("[data-empty=executions]")).toHaveText("No run in this view.");
});

test("a link whose filter is no longer valid still opens the page, says why, and a new filter clears it", async ({ page, request }) => {
  const auth = { Authorization: `Bearer ${ingestToken()}` };
  const s = await request.post("/api/v1/executions/start", { headers: auth, data: { job: "filter-old" } });
  await request.post(`/api/v1/executions/${(await s.json()).id}/complete`, { headers: auth, data: { status: "failed" } });
  await submitSignIn(page, "admin", ADMIN_PASSWORD, "/login?next=" + encodeURIComponent("/monitoring?status=exploded"));
  await expect(page.locator(".live-indicator[data-live=true]")).toBeVisible();
  const why = page.locator("[data-field=filter-error]");
  await expect(why).toHaveText('This view\'s filter cannot be used: unknown status "exploded". Change or clear it.');
  await expect(page.locator('table.jobs tr[data-job="filter-old"]')).toBeVisible();
  await expect(page.locator("table.executions tbody tr")).toHaveCount(0);

  await page.locator("select[name=status]").selectOption("failed");
  await expect(page).toHaveURL(/status=failed$/);
  await expect(why).toHaveCount(0);
  await expect(page.locator("table.executions")).toContainText("filter-old");
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

test("times are written in the viewer's zone, also in rows the server rendered", async ({ browser, request }) => {
  const auth = { Authorization: `Bearer ${ingestToken()}` };
  // Three hours ago: its "3 h ago" will not change while the test looks, so only the
  // switch to the viewer's zone can rewrite the server's UTC text.
  const started = new Date(Date.now() - 3 * 3600_000);
  started.setUTCMilliseconds(0);
  const s = await request.post("/api/v1/executions/start", {
    headers: auth, data: { job: "e2e-zone", started_at: started.toISOString() },
  });
  expect(s.status()).toBe(201);
  const id = (await s.json()).id;
  // Kolkata is UTC+05:30 all year: no daylight saving to make the expectation wrong.
  const context = await browser.newContext({ timezoneId: "Asia/Kolkata" });
  const page = await context.newPage();
  await signIn(page);
  await page.goto("/monitoring?tab=crons&job=e2e-zone");
  await expect(page.locator(".live-indicator[data-live=true]")).toBeVisible();

  const k = new Date(started.getTime() + 5.5 * 3600_000);
  const two = (n: number) => String(n).padStart(2, "0");
  const months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  const kolkata = `${months[k.getUTCMonth()]} ${two(k.getUTCDate())} ${two(k.getUTCHours())}:${two(k.getUTCMinutes())}:${two(k.getUTCSeconds())}`;
  const cell = page.locator(`tr[data-execution="${id}"] time`);
  await expect(cell).toHaveText(`${kolkata} · 3 h ago`);
  await expect(cell).toHaveAttribute("title", kolkata);
  await expect(page.locator('tr[data-job="e2e-zone"] time')).toHaveAttribute("title", kolkata);
  await context.close();
});

test("on a phone the sign-in card, the tables and a run's details fit the screen, and names break only between words", async ({ page, request }) => {
  const auth = { Authorization: `Bearer ${ingestToken()}` };
  // One long unbroken name, and three failures for the widest alert badge.
  for (let i = 0; i < 3; i++) {
    const s = await request.post("/api/v1/executions/start", { headers: auth, data: { job: "phonelayoutcheck" } });
    const id = (await s.json()).id;
    await request.post(`/api/v1/executions/${id}/complete`, { headers: auth, data: { status: "failed", exit_code: 1 } });
  }
  // The longest name a job may have: it widens the job filters and the attention summary.
  const longest = "a-job-name-as-long-as-names-may-be-sixty-four-characters-exactly";
  expect(longest).toHaveLength(64);
  for (let i = 0; i < 3; i++) {
    const s = await request.post("/api/v1/executions/start", { headers: auth, data: { job: longest } });
    const id = (await s.json()).id;
    await request.post(`/api/v1/executions/${id}/complete`, { headers: auth, data: { status: "failed", exit_code: 1 } });
  }
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto("/login");
  await expect(page.getByRole("button", { name: "Sign in" })).toBeVisible();
  expect(await page.evaluate(() => document.documentElement.scrollWidth - innerWidth), "the sign-in card fits").toBe(0);
  await signIn(page);
  const name = page.locator('tr[data-job="phonelayoutcheck"] strong');
  await expect(page.locator('tr[data-job="phonelayoutcheck"] .alert-badge')).toHaveText("3 failures in a row");
  const layout = await page.evaluate(() => {
    const text = document.querySelector('tr[data-job="phonelayoutcheck"] strong')!.firstChild!;
    const range = document.createRange();
    range.selectNodeContents(text);
    return {
      nameLines: new Set([...range.getClientRects()].map((r) => Math.round(r.top))).size,
      overflow: document.documentElement.scrollWidth - innerWidth,
      tablesOutside: [...document.querySelectorAll("table.grid")].filter(
        (t) => t.getBoundingClientRect().right > t.closest("section")!.getBoundingClientRect().right + 0.5,
      ).length,
      controlsOutside: [...document.querySelectorAll("section select, section input, .attention a")].filter(
        (c) => c.getBoundingClientRect().right > c.closest("section")!.getBoundingClientRect().right + 0.5,
      ).length,
    };
  });
  expect(layout).toEqual({ nameLines: 1, overflow: 0, tablesOutside: 0, controlsOutside: 0 });
  await expect(page.locator(`.attention a[data-job="${longest}"]`)).toBeVisible();
  await expect(name).toHaveText("phonelayoutcheck");
  // On a phone a run's row shows when it started rather than its trigger.
  await expect(page.locator("table.executions th", { hasText: "Started" })).toBeVisible();
  await expect(page.locator("table.executions th", { hasText: "Trigger" })).toBeHidden();

  await page.locator("table.executions tbody tr").first().click();
  const modal = page.locator(".modal");
  await expect(modal.locator("h2")).toBeVisible();
  const box = (await modal.boundingBox())!;
  expect(box.x).toBeGreaterThanOrEqual(0);
  expect(box.x + box.width).toBeLessThanOrEqual(390);
  await expect(page.getByRole("button", { name: "Close" })).toBeInViewport({ ratio: 1 });
});

test("a run's details open and close from the keyboard, and focus returns to its row", async ({ page, request }) => {
  const auth = { Authorization: `Bearer ${ingestToken()}` };
  const s = await request.post("/api/v1/executions/start", { headers: auth, data: { job: "e2e-keyboard" } });
  const id = (await s.json()).id;
  await request.post(`/api/v1/executions/${id}/complete`, { headers: auth, data: { status: "completed", output: { via: "keys" } } });
  await signIn(page);
  const row = page.locator(`tr[data-execution="${id}"]`);
  await row.focus();
  await page.keyboard.press("Enter");
  const dialog = page.getByRole("dialog");
  await expect(dialog.locator("pre.json")).toContainText('"via": "keys"');
  await expect(page.getByRole("button", { name: "Close" })).toBeFocused();
  await page.keyboard.press("Escape");
  await expect(dialog).toHaveCount(0);
  await expect(row).toBeFocused();
  // The next row is one Tab away.
  await page.keyboard.press("Tab");
  await expect(page.locator("table.executions tbody tr").nth(1)).toBeFocused();
});

test("the pager walks older executions 50 at a time and brings the table's top into view", async ({ page, request }) => {
  const auth = { Authorization: `Bearer ${ingestToken()}` };
  const ids: string[] = [];
  for (let i = 0; i < 60; i++) {
    const startedAt = new Date(Date.now() - (60 - i) * 60_000).toISOString();
    const s = await request.post("/api/v1/executions/start", { headers: auth, data: { job: "paged", started_at: startedAt } });
    expect(s.status()).toBe(201);
    ids.push((await s.json()).id);
  }
  const newestFirst = ids.reverse();
  await signIn(page);
  await page.locator("select[name=job]").selectOption("paged");
  const rows = page.locator("table.executions tbody tr");
  await expect(rows).toHaveCount(50);
  await expect(rows.first()).toHaveAttribute("data-execution", newestFirst[0]);

  await page.setViewportSize({ width: 1280, height: 400 });
  const older = page.getByRole("button", { name: "Older →" });
  await older.scrollIntoViewIfNeeded();
  await older.click();
  await expect(page).toHaveURL(/cursor=/);
  await expect(rows).toHaveCount(10);
  await expect(rows.first()).toHaveAttribute("data-execution", newestFirst[50]);
  await expect(rows.last()).toHaveAttribute("data-execution", newestFirst[59]);
  await expect(page.locator("#executions h2")).toBeInViewport();
  await expect(older).toHaveCount(0);

  await page.getByRole("button", { name: "← Newest" }).click();
  await expect(page).not.toHaveURL(/cursor=/);
  await expect(rows).toHaveCount(50);
  await expect(rows.first()).toHaveAttribute("data-execution", newestFirst[0]);
});
