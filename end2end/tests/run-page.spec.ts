import { createServer } from "node:http";
import { AddressInfo } from "node:net";
import { expect, test } from "@playwright/test";
import { signIn, token } from "./helpers";

test("an admin runs a job with parameters from its run page, then plans one and cancels it", async ({ page, request }) => {
  // The job's endpoint, on loopback, keeping the bodies it was sent.
  const bodies: any[] = [];
  const endpoint = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      bodies.push(JSON.parse(body));
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ indexed: 25 }));
    });
  });
  await new Promise<void>((ok) => endpoint.listen(0, "127.0.0.1", ok));
  const port = (endpoint.address() as AddressInfo).port;
  try {
    const put = await request.put("/api/v1/jobs/reindex-kb", {
      headers: { Authorization: `Bearer ${token("admin")}` },
      data: {
        kind: "http",
        description: "Re-indexes a knowledge base",
        http: { url: `http://127.0.0.1:${port}/reindex` },
        params: [
          { name: "index", choices: ["kb", "qa"], required: true, description: "which <i>index</i>" },
          { name: "batch_size", type: "integer", default: 100 },
        ],
      },
    });
    expect(put.status()).toBe(201);

    // From the job's Run now…, to its run page.
    await signIn(page);
    const row = page.locator('tr[data-job="reindex-kb"]');
    await row.locator(".run-now > summary").click();
    await row.getByRole("link", { name: "With parameters or later…" }).click();
    await expect(page).toHaveURL(/\/monitoring\/jobs\/reindex-kb\/run$/);
    await expect(page.getByRole("heading", { name: "Run reindex-kb" })).toBeVisible();
    await expect(page.locator("main")).toContainText("which <i>index</i>");
    await expect(page.locator("#planned + p")).toHaveText("None.");

    // Run now with values: back at the row, the run ends; its modal shows them.
    await page.locator('select[name="param.index"]').selectOption("qa");
    await page.locator('input[name="param.batch_size"]').fill("25");
    await page.screenshot({ path: "test-results/run-page.png", fullPage: true });
    await page.getByRole("button", { name: "Run" }).click();
    await expect(page).toHaveURL(/\/monitoring\?tab=crons&job=reindex-kb&run=[0-9a-f-]{36}#job-reindex-kb$/);
    await expect(row.locator(".badge")).toHaveText("completed", { timeout: 10_000 });
    await page.locator("tr[data-execution]").first().click();
    const dialog = page.getByRole("dialog");
    const shown = dialog.locator("h3:has-text('Parameters') + pre");
    await expect(shown).toContainText('"index": "qa"');
    await expect(shown).toContainText('"batch_size": 25');
    await page.screenshot({ path: "test-results/run-params-modal.png" });
    expect(bodies[0].params).toEqual({ index: "qa", batch_size: 25 });

    // Planned for tomorrow (the job's zone is UTC): listed, then cancelled.
    await page.goto("/monitoring/jobs/reindex-kb/run");
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 16);
    await page.locator('select[name="param.index"]').selectOption("kb");
    await page.locator('input[name="at"]').fill(tomorrow);
    await page.getByRole("button", { name: "Run" }).click();
    await expect(page).toHaveURL(/\/monitoring\/jobs\/reindex-kb\/run#plan-[0-9a-f-]{36}$/);
    const plan = page.locator("table.planned tbody tr");
    await expect(plan).toHaveCount(1);
    await expect(plan).toContainText(`${tomorrow.replace("T", " ")}:00 UTC`);
    await expect(plan).toContainText('{"batch_size":100,"index":"kb"}');
    await expect(plan).toContainText("user:admin");
    await page.screenshot({ path: "test-results/run-planned.png", fullPage: true });
    await plan.getByRole("button", { name: "Cancel" }).click();
    await expect(page.locator("#planned + p")).toHaveText("None.");
    expect(bodies.length).toBe(1);
  } finally {
    endpoint.close();
  }
});
