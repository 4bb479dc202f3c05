import { createServer, IncomingHttpHeaders } from "node:http";
import { AddressInfo } from "node:net";
import { expect, test } from "@playwright/test";
import { spawn } from "node:child_process";
import { BIN, signIn, token } from "./helpers";

test("an admin runs an http job from its row and watches it end, live", async ({ page, request }) => {
  // The job's endpoint, on loopback: answers JSON after 1.5 s, keeping what it was sent.
  const calls: { headers: IncomingHttpHeaders; body: string }[] = [];
  const endpoint = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      calls.push({ headers: req.headers, body });
      setTimeout(() => {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ analyzed_count: 100, problematic_found: 3 }));
      }, 1500);
    });
  });
  await new Promise<void>((ok) => endpoint.listen(0, "127.0.0.1", ok));
  const port = (endpoint.address() as AddressInfo).port;
  try {
    const admin = { Authorization: `Bearer ${token("admin")}` };
    const put = await request.put("/api/v1/jobs/qa-analysis-now", {
      headers: admin,
      data: {
        kind: "http",
        description: "Analyses 100 Q&A",
        estimated_duration_ms: 60000,
        // The playwright config gives the server this variable.
        http: { url: `http://127.0.0.1:${port}/api/cron/qa`, secret_env: "CRONWATCH_SECRET_E2E" },
      },
    });
    expect(put.status()).toBe(201);

    await signIn(page);
    const row = page.locator('tr[data-job="qa-analysis-now"]');
    const confirm = row.getByRole("button", { name: "Run now" });
    await expect(confirm).toBeHidden();
    await row.locator(".run-now > summary").click();
    await expect(row.locator(".run-now form").first()).toContainText("Runs qa-analysis-now now. It usually takes 1 min");
    await row.screenshot({ path: "test-results/run-now-confirm.png" });
    await confirm.click();

    // Back at the job's row, its executions listed: running, then ended by the live stream.
    await expect(page).toHaveURL(/\/monitoring\?tab=crons&job=qa-analysis-now&run=[0-9a-f-]{36}#job-qa-analysis-now$/);
    await expect(page.locator(".live-indicator[data-live=true]")).toBeVisible();
    await expect(row.locator(".badge")).toHaveText("running");
    const toast = page.getByRole("status").locator(".toast");
    await expect(toast).toHaveCount(0);
    await expect(row.locator(".badge")).toHaveText("completed", { timeout: 10_000 });
    // A toast says the run has ended, until dismissed.
    await expect(toast.locator("span")).toHaveText(/^The run of qa-analysis-now completed in \d+\.\d s\.$/);
    await page.screenshot({ path: "test-results/run-now-toast.png" });
    await toast.getByRole("button", { name: "Dismiss" }).click();
    await expect(toast).toHaveCount(0);
    const run = page.locator("tr[data-execution]").first();
    await expect(run).toContainText("manual");
    await run.click();
    await expect(page.getByRole("dialog").locator("pre.json")).toContainText('"problematic_found": 3');

    expect(calls.length).toBe(1);
    expect(calls[0].headers["x-cron-secret"]).toBe("e2e-secret");
    expect(JSON.parse(calls[0].body)).toMatchObject({ job: "qa-analysis-now", trigger: "manual", triggered_by: "user:admin" });
  } finally {
    endpoint.close();
  }
});

test("an admin cancels the run under way from its row; the toast says it ended", async ({ page, request }) => {
  // An endpoint that never answers in time: the run stays under way until cancelled.
  let calls = 0;
  let dropped = false;
  const endpoint = createServer((req, res) => {
    calls += 1;
    res.on("close", () => (dropped = !res.writableEnded));
    setTimeout(() => res.end("{}"), 60_000);
  });
  await new Promise<void>((ok) => endpoint.listen(0, "127.0.0.1", ok));
  const port = (endpoint.address() as AddressInfo).port;
  try {
    const admin = { Authorization: `Bearer ${token("admin")}` };
    const put = await request.put("/api/v1/jobs/refresh-views-now", {
      headers: admin,
      data: { kind: "http", http: { url: `http://127.0.0.1:${port}/refresh` } },
    });
    expect(put.status()).toBe(201);

    await signIn(page);
    const row = page.locator('tr[data-job="refresh-views-now"]');
    await row.locator(".run-now > summary").click();
    const cancel = row.getByRole("button", { name: "Cancel run" });
    await expect(cancel).toBeHidden(); // nothing under way yet
    await row.getByRole("button", { name: "Run now" }).click();
    await expect(row.locator(".badge")).toHaveText("running");
    expect(calls).toBe(1);

    await row.locator(".run-now > summary").click();
    await expect(cancel).toBeVisible();
    await row.screenshot({ path: "test-results/cancel-run.png" });
    await cancel.click();
    await expect(page).toHaveURL(/job=refresh-views-now&run=[0-9a-f-]{36}#job-refresh-views-now$/);
    await expect(row.locator(".badge")).toHaveText("cancelled");
    await expect(page.getByRole("status").locator(".toast span")).toHaveText(
      /^The run of refresh-views-now ended cancelled after [\d.]+ (ms|s): cancelled by user:admin$/,
    );
    await expect(cancel).toBeHidden();
    await expect.poll(() => dropped, { message: "the call's connection was closed" }).toBe(true);
  } finally {
    endpoint.closeAllConnections();
    endpoint.close();
  }
});

test("an admin runs a command job; an agent runs it and the toast says how it ended", async ({ page, request, baseURL }) => {
  const admin = { Authorization: `Bearer ${token("admin")}` };
  const put = await request.put("/api/v1/jobs/nightly-export", {
    headers: admin,
    data: {
      kind: "command",
      description: "Exports the day's orders",
      estimated_duration_ms: 2000,
      command: { argv: ["sh", "-c", 'sleep 1; echo "exported <b>42</b> orders"; echo \'{"orders": 42}\''] },
    },
  });
  expect(put.status()).toBe(201);
  // A real agent on this host, with its own token.
  const agent = spawn(BIN, ["agent", "--name", "e2e-box"], {
    env: { ...process.env, CRONWATCH_URL: baseURL!, CRONWATCH_TOKEN: token("agent") },
    stdio: "ignore",
  });
  try {
    await signIn(page);
    const row = page.locator('tr[data-job="nightly-export"]');
    await row.locator(".run-now > summary").click();
    await expect(row.locator(".run-now form").first()).toContainText("Runs nightly-export now. It usually takes 2.0 s");
    await row.getByRole("button", { name: "Run now" }).click();

    await expect(page).toHaveURL(/\/monitoring\?tab=crons&job=nightly-export&run=[0-9a-f-]{36}#job-nightly-export$/);
    await expect(row.locator(".badge")).toHaveText("completed", { timeout: 15_000 });
    const toast = page.getByRole("status").locator(".toast");
    await expect(toast.locator("span")).toHaveText(/^The run of nightly-export completed in \d+\.\d s\.$/);
    // The run's modal: the agent as its host, its last JSON line as output, its log
    // escaped (the markup is shown as text).
    const run = page.locator("tr[data-execution]").first();
    await run.click();
    const dialog = page.getByRole("dialog");
    await expect(dialog.locator("pre.json")).toContainText('"orders": 42');
    await expect(dialog).toContainText("exported <b>42</b> orders");
    await expect(dialog).toContainText("e2e-box");
    await page.screenshot({ path: "test-results/command-run.png" });
  } finally {
    const exited = new Promise((r) => agent.once("exit", r));
    agent.kill("SIGTERM");
    await exited;
  }
});
