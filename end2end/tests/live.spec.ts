import { expect, test } from "@playwright/test";
import { cli, psql, signIn, startServer, stopServer, token } from "./helpers";

test("a viewer sees the dashboard, and the next-run countdown ticks", async ({ page, request }) => {
  cli(["user", "add", "vic", "--role", "viewer", "--password-stdin"], "password-of-vic\n");
  const admin = { Authorization: `Bearer ${token("admin")}` };
  // Far ahead, so no expected start passes during the test.
  const put = await request.put("/api/v1/jobs/new-year", {
    headers: admin,
    data: { schedule: "0 0 1 1 *", description: "ticks" },
  });
  expect(put.status()).toBe(201);
  await signIn(page, "vic", "password-of-vic");
  await expect(page.locator(".who")).toContainText("vic · viewer");
  await expect(page.locator("table.jobs")).toContainText("new-year");
  const next = page.locator("[data-kpi=next]");
  await expect(next).toHaveText(/^(\d+ d )?\d\d:\d\d:\d\d · new-year$/);
  const first = await next.innerText();
  await expect(next).not.toHaveText(first, { timeout: 3000 });
});

test("three failures in a row raise the job's alert and its 7-day success rate falls", async ({ page, request }) => {
  const auth = { Authorization: `Bearer ${token("ingest")}` };
  const run = async (status: string) => {
    const s = await request.post("/api/v1/executions/start", { headers: auth, data: { job: "flaky" } });
    const id = (await s.json()).id;
    await request.post(`/api/v1/executions/${id}/complete`, { headers: auth, data: { status } });
  };
  await run("completed");
  await signIn(page);
  const row = page.locator('tr[data-job="flaky"]');
  await expect(row.locator("[data-field=success-rate]")).toHaveText("100 %");
  await expect(row.locator("[data-field=alerts]")).toHaveText("");
  for (let i = 0; i < 3; i++) await run("failed");
  await expect(row.locator("[data-field=alerts]")).toHaveText("3 failures in a row", { timeout: 2000 });
  await expect(row.locator("[data-field=success-rate]")).toHaveText("25 %");
  await expect(row).toHaveClass(/alerting/);

  // The summary above the chart names the job; its link brings the row into view.
  const summary = page.locator(".attention");
  const link = summary.locator('a.attention-job[data-job="flaky"]');
  await expect(link).toHaveText("flaky3 failures in a row");
  // The tab's title counts them, for a tab in the background.
  const count = await summary.getAttribute("data-count");
  await expect(page).toHaveTitle(`(${count}) cronwatch`);
  await expect(summary.locator("strong")).toHaveText(/^\d+ jobs? needs? attention:$/);
  await page.evaluate(() => window.scrollTo(0, 0));
  await link.click();
  await expect(page).toHaveURL(/\/monitoring#job-flaky$/);
  await expect(row).toBeInViewport();
  // A success ends the streak: the job leaves the summary, live.
  await run("completed");
  await expect(row.locator("[data-field=alerts]")).toHaveText("", { timeout: 2000 });
  await expect(link).toHaveCount(0);
  const left = Number(await summary.getAttribute("data-count"));
  await expect(page).toHaveTitle(left === 0 ? "cronwatch" : `(${left}) cronwatch`);
});

test("in a wide outage the summary names the most urgent jobs and offers the rest", async ({ page, request }) => {
  const auth = { Authorization: `Bearer ${token("ingest")}` };
  const fail = async (job: string) => {
    for (let i = 0; i < 3; i++) {
      const s = await request.post("/api/v1/executions/start", { headers: auth, data: { job } });
      const id = (await s.json()).id;
      await request.post(`/api/v1/executions/${id}/complete`, { headers: auth, data: { status: "failed" } });
    }
  };
  // More jobs than the summary lists (12), with whatever earlier tests left alerting.
  await Promise.all(Array.from({ length: 13 }, (_, i) => fail(`outage-${String(i).padStart(2, "0")}`)));
  await signIn(page);
  const summary = page.locator(".attention");
  await expect(summary.locator('a.attention-job[data-job="outage-00"]')).toBeVisible();
  const count = Number(await summary.getAttribute("data-count"));
  expect(count).toBeGreaterThanOrEqual(13);
  await expect(summary.locator("strong")).toHaveText(`${count} jobs need attention:`);
  await expect(summary.locator("a.attention-job")).toHaveCount(12);
  const more = summary.locator("button.attention-more");
  await expect(more).toHaveText(`and ${count - 12} more`);
  await more.click();
  await expect(summary.locator("a.attention-job")).toHaveCount(count);
  await expect(more).toHaveCount(0);
  await expect(summary.locator('a.attention-job[data-job="outage-12"]')).toBeVisible();
});

test("after a server restart the page says reconnecting, then catches up with nothing missed", async ({ page, request }) => {
  const port = Number(process.env.E2E_PORT ?? 3210) + 1;
  const base = `http://127.0.0.1:${port}`;
  let server = await startServer(port);
  try {
    await signIn(page, undefined, undefined, base);
    const auth = { Authorization: `Bearer ${token("ingest")}` };
    const total = Number(await page.locator("[data-kpi=total]").innerText());

    await stopServer(server);
    await expect(page.locator(".live-indicator[data-live=false]")).toHaveText(/reconnecting/, { timeout: 5000 });
    // Reports keep arriving through the other replica while this one is down.
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const s = await request.post("/api/v1/executions/start", { headers: auth, data: { job: "while-down" } });
      ids.push((await s.json()).id);
    }
    await request.post(`/api/v1/executions/${ids[0]}/complete`, { headers: auth, data: { status: "completed" } });

    server = await startServer(port);
    await expect(page.locator(".live-indicator[data-live=true]")).toBeVisible({ timeout: 10_000 });
    for (const id of ids) await expect(page.locator(`tr[data-execution="${id}"]`)).toHaveCount(1, { timeout: 5000 });
    await expect(page.locator(`tr[data-execution="${ids[0]}"] .badge`)).toHaveText("completed");
    await expect(page.locator("[data-kpi=total]")).toHaveText(String(total + 3));
    // Nothing twice: one more live report moves the total by exactly one.
    const s = await request.post("/api/v1/executions/start", { headers: auth, data: { job: "while-down" } });
    await expect(page.locator(`tr[data-execution="${(await s.json()).id}"]`)).toHaveCount(1, { timeout: 2000 });
    await expect(page.locator("[data-kpi=total]")).toHaveText(String(total + 4));
  } finally {
    await stopServer(server);
  }
});

test("a page away for longer than events are kept reloads once, then stays live", async ({ page, request }) => {
  const port = Number(process.env.E2E_PORT ?? 3210) + 2;
  const base = `http://127.0.0.1:${port}`;
  let server = await startServer(port);
  try {
    await signIn(page, undefined, undefined, base);
    await page.evaluate(() => ((window as any).__beforeReload = true));
    await stopServer(server);
    await expect(page.locator(".live-indicator[data-live=false]")).toHaveText(/reconnecting/, { timeout: 5000 });
    const auth = { Authorization: `Bearer ${token("ingest")}` };
    const s = await request.post("/api/v1/executions/start", { headers: auth, data: { job: "while-away" } });
    const missed = (await s.json()).id;
    // Meanwhile every event is pruned, as after event_retention_hours.
    psql(
      "with gone as (delete from events returning seq) " +
        "update event_horizon set pruned_through = greatest(pruned_through, (select coalesce(max(seq), 0) from gone))",
    );

    server = await startServer(port);
    // A look that lands during the reload itself throws (its page is going): poll again.
    await expect
      .poll(() => page.evaluate(() => (window as any).__beforeReload ?? false).catch(() => true), { timeout: 15_000 })
      .toBe(false);
    await expect(page.locator(".live-indicator[data-live=true]")).toBeVisible({ timeout: 10_000 });
    await expect(page.locator(`tr[data-execution="${missed}"]`)).toHaveCount(1);
    // Settled: no second reload, and live again.
    await page.evaluate(() => ((window as any).__afterReload = true));
    const next = await request.post("/api/v1/executions/start", { headers: auth, data: { job: "while-away" } });
    await expect(page.locator(`tr[data-execution="${(await next.json()).id}"]`)).toHaveCount(1, { timeout: 5000 });
    expect(await page.evaluate(() => (window as any).__afterReload)).toBe(true);
  } finally {
    await stopServer(server);
  }
});

test("event-to-DOM latency (figures for the notes; asserts only that every row arrived)", async ({ page, request }) => {
  // Stamp each execution event as the browser receives it, before the app's own handler.
  await page.addInitScript(() => {
    const seen: Record<string, number> = {};
    (window as any).__eventSeen = seen;
    const Native = window.EventSource;
    (window as any).EventSource = function (url: string, init?: EventSourceInit) {
      const es = new Native(url, init);
      es.addEventListener("execution", (m: MessageEvent) => {
        const id = JSON.parse(m.data).data.id;
        if (!(id in seen)) seen[id] = performance.now();
      });
      return es;
    };
    const shown: Record<string, number> = {};
    (window as any).__rowShown = shown;
    new MutationObserver(() => {
      const t = performance.now();
      document.querySelectorAll("tr[data-execution]").forEach((r) => {
        const id = r.getAttribute("data-execution")!;
        if (!(id in shown)) shown[id] = t;
      });
    }).observe(document, { subtree: true, childList: true });
  });
  await signIn(page);
  const auth = { Authorization: `Bearer ${token("ingest")}` };
  const ids: string[] = [];
  for (let i = 0; i < 100; i++) {
    const s = await request.post("/api/v1/executions/start", { headers: auth, data: { job: "latency" } });
    ids.push((await s.json()).id);
    await page.waitForTimeout(20);
  }
  await expect.poll(() => page.evaluate((ids) => ids.filter((id) => id in (window as any).__rowShown).length, ids)).toBe(100);
  const lat = await page.evaluate((ids) => ids.map((id) => (window as any).__rowShown[id] - (window as any).__eventSeen[id]), ids);
  lat.sort((a, b) => a - b);
  const pct = (p: number) => lat[Math.min(lat.length - 1, Math.floor((p / 100) * lat.length))].toFixed(1);
  console.log(`event-to-DOM over ${lat.length} events: p50 ${pct(50)} ms, p99 ${pct(99)} ms, max ${lat[lat.length - 1].toFixed(1)} ms`);
  expect(lat.every((x) => Number.isFinite(x) && x >= 0)).toBe(true);
});

test("a job deleted through the API leaves the open page with its runs and counts", async ({ page, request }) => {
  const ingest = { Authorization: `Bearer ${token("ingest")}` };
  for (const status of ["failed", "completed"]) {
    const s = await request.post("/api/v1/executions/start", { headers: ingest, data: { job: "typo-job" } });
    await request.post(`/api/v1/executions/${(await s.json()).id}/complete`, { headers: ingest, data: { status } });
  }
  await signIn(page);
  const row = page.locator('tr[data-job="typo-job"]');
  await expect(row).toBeVisible();
  await expect(page.locator("table.executions")).toContainText("typo-job");
  const total = page.locator("[data-kpi=total]");
  const before = Number(await total.innerText());

  const del = await request.delete("/api/v1/jobs/typo-job", {
    headers: { Authorization: `Bearer ${token("admin")}` },
  });
  expect(del.status()).toBe(200);
  await expect(row).toHaveCount(0);
  await expect(page.locator("table.executions")).not.toContainText("typo-job");
  await expect(total).toHaveText(String(before - 2));
});

test("a job that declares neither timeout nor estimate is flagged stuck when a run hangs far past its habit", async ({ page, request }) => {
  const auth = { Authorization: `Bearer ${token("ingest")}` };
  const ago = (ms: number) => new Date(Date.now() - ms).toISOString();
  const history = async (job: string, durationMs: number, hangingForMs: number) => {
    for (let i = 0; i < 3; i++) {
      const s = await request.post("/api/v1/executions/start", { headers: auth, data: { job, started_at: ago(3_600_000 - i * 60_000) } });
      expect(s.status()).toBe(201);
      const id = (await s.json()).id;
      const c = await request.post(`/api/v1/executions/${id}/complete`, { headers: auth, data: { status: "completed", duration_ms: durationMs } });
      expect(c.status()).toBe(200);
    }
    const hanging = await request.post("/api/v1/executions/start", { headers: auth, data: { job, started_at: ago(hangingForMs) } });
    expect(hanging.status()).toBe(201);
  };
  // Usually 1 s, running for 10 min: far past its habit (3×, at least a minute more).
  await history("habit-quick", 1_000, 600_000);
  // Usually 10 min, running for 10 min: as usual.
  await history("habit-slow", 600_000, 600_000);
  await signIn(page);
  await expect(page.locator('tr[data-job="habit-quick"] [data-field=alerts]')).toHaveText("stuck");
  await expect(page.locator('tr[data-job="habit-slow"] [data-field=alerts]')).toHaveText("");
  await expect(page.locator('.attention a.attention-job[data-job="habit-quick"]')).toContainText("stuck");
});

test("a run that never reported its end stays flagged stuck after a newer run of its job finished, and the flag lists it", async ({ page, request }) => {
  const admin = { Authorization: `Bearer ${token("admin")}` };
  const auth = { Authorization: `Bearer ${token("ingest")}` };
  const ago = (ms: number) => new Date(Date.now() - ms).toISOString();
  const start = async (job: string, startedAt: string) => {
    const s = await request.post("/api/v1/executions/start", { headers: auth, data: { job, started_at: startedAt } });
    expect(s.status()).toBe(201);
    return (await s.json()).id as string;
  };
  const complete = async (id: string) => {
    const c = await request.post(`/api/v1/executions/${id}/complete`, { headers: auth, data: { status: "completed", duration_ms: 900 } });
    expect(c.status()).toBe(200);
  };
  // Estimated at 1 s: a run is stuck after a minute and a second.
  for (const job of ["zombie-at-load", "zombie-live"]) {
    const put = await request.put(`/api/v1/jobs/${job}`, { headers: admin, data: { estimated_duration_ms: 1000 } });
    expect(put.status()).toBe(201);
  }
  // Before the page loads: killed 2 h ago without a word; the next run went fine.
  const zombie = await start("zombie-at-load", ago(7_200_000));
  await complete(await start("zombie-at-load", ago(5_000)));
  await signIn(page);
  const row = page.locator('tr[data-job="zombie-at-load"]');
  await expect(row.locator("td").nth(2)).toHaveText("completed");
  await expect(row.locator("[data-field=alerts]")).toHaveText("stuck");
  await expect(row.locator("a.alert-stuck")).toHaveAttribute("title", /has not reported its end/);
  await expect(page.locator('.attention a.attention-job[data-job="zombie-at-load"]')).toContainText("stuck");

  // While the page is open: a hung run, then a newer one that ends; the flag stays
  // until the hung run ends too.
  const live = page.locator('tr[data-job="zombie-live"] [data-field=alerts]');
  const hung = await start("zombie-live", ago(600_000));
  await expect(live).toHaveText("stuck");
  // A running run's duration is how long it has run so far, ticking.
  const elapsed = page.locator('tr[data-job="zombie-live"] td').nth(4);
  await expect(elapsed).toHaveText(/^10 min \d+ s so far$/);
  const first = await elapsed.innerText();
  await expect(elapsed).not.toHaveText(first, { timeout: 3000 });
  await complete(await start("zombie-live", ago(1_000)));
  await expect(page.locator('tr[data-job="zombie-live"] td').nth(2)).toHaveText("completed");
  await expect(live).toHaveText("stuck");
  await complete(hung);
  await expect(live).toHaveText("");

  // The flag lists the job's running executions: the one that never ended.
  await row.locator("a.alert-stuck").click();
  await expect(page).toHaveURL(/job=zombie-at-load/);
  await expect(page).toHaveURL(/status=running/);
  await expect(page.locator("#executions")).toBeInViewport();
  const rows = page.locator("table.executions tbody tr");
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toHaveAttribute("data-execution", zombie);
  await expect(rows.first().locator("td").nth(4)).toHaveText(/^2 h \d min so far$/);

  // "Running now" lists every running execution, of every job.
  await page.locator("a.kpi", { has: page.locator("[data-kpi=running]") }).click();
  await expect(page).toHaveURL(/status=running/);
  await expect(page).not.toHaveURL(/job=/);
  await expect(page.locator("#executions")).toBeInViewport();
  // (Newest first: earlier tests left runs running, so the zombie may be pages away.)
  await expect(page.locator("table.executions tbody tr").first()).toBeVisible();
  await expect(page.locator("table.executions .badge")).toHaveText(
    Array(await page.locator("table.executions .badge").count()).fill("running"));
});
