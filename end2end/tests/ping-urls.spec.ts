import { expect, test } from "@playwright/test";
import { cli, signIn, token } from "./helpers";

/** Job `name`'s ping path as `cronwatch jobs ping-key` prints it. */
const pingPath = (name: string) => cli(["jobs", "ping-key", name]).trim().split("\n").pop()!;

test("an admin copies a job's ping URL from its row, and a new key replaces it at once", async ({ page, request, baseURL }) => {
  const admin = { Authorization: `Bearer ${token("admin")}` };
  const put = await request.put("/api/v1/jobs/pinged", { headers: admin, data: { description: "pinged by curl" } });
  expect(put.status()).toBe(201);
  const oldUrl = `${baseURL}${pingPath("pinged")}`;

  await signIn(page);
  const row = page.locator('tr[data-job="pinged"]');
  const url = row.locator(".ping-url code");
  await expect(url).toBeHidden();
  await row.locator(".ping-url > summary").click();
  await expect(url).toHaveText(oldUrl);
  await row.screenshot({ path: "test-results/ping-url-row.png" });

  // The URL as shown is the one that works: pinging it records a run, live.
  expect((await request.get(oldUrl)).status()).toBe(200);
  await expect(row.locator(".badge")).toHaveText("completed", { timeout: 2000 });

  // Regenerating takes two steps; the page comes back open at the new URL.
  await row.locator(".ping-regenerate > summary").click();
  await row.getByRole("button", { name: "Regenerate now" }).click();
  await expect(page).toHaveURL(/\/monitoring#ping-url-pinged$/);
  await expect(page.locator(".live-indicator[data-live=true]")).toBeVisible();
  const fresh = page.locator("#ping-url-pinged");
  await expect(fresh).toBeVisible();
  await expect(fresh).not.toHaveText(oldUrl);
  const newUrl = `${baseURL}${pingPath("pinged")}`;
  await expect(fresh).toHaveText(newUrl);
  await page.locator('tr[data-job="pinged"]').screenshot({ path: "test-results/ping-url-regenerated.png" });
  expect((await request.get(oldUrl)).status()).toBe(404);
  expect((await request.get(newUrl)).status()).toBe(200);

  // A job that appears while the page is open: live events carry no keys (every viewer
  // gets them), so its row says where the URL is.
  const started = await request.post("/api/v1/executions/start", {
    headers: { Authorization: `Bearer ${token("ingest")}` },
    data: { job: "pinged-later" },
  });
  expect(started.status()).toBe(201);
  const later = page.locator('tr[data-job="pinged-later"]');
  await expect(later.locator(".ping-url")).toHaveText("Ping URL: reload the page to see it.", { timeout: 2000 });
  await page.reload();
  await later.locator(".ping-url > summary").click();
  await expect(later.locator(".ping-url code")).toHaveText(`${baseURL}${pingPath("pinged-later")}`);
});

test("a viewer is shown no ping URL", async ({ page, request }) => {
  cli(["user", "add", "pia", "--role", "viewer", "--password-stdin"], "password-of-pia\n");
  const ingest = { Authorization: `Bearer ${token("ingest")}` };
  expect((await request.post("/api/v1/executions/start", { headers: ingest, data: { job: "pinged-too" } })).status()).toBe(201);
  await signIn(page, "pia", "password-of-pia");
  await expect(page.locator('tr[data-job="pinged-too"]')).toBeVisible();
  await expect(page.locator(".ping-url")).toHaveCount(0);
  expect(await page.content()).not.toContain(pingPath("pinged-too").slice("/ping/".length));
});
