import { expect, test } from "@playwright/test";
import { cli, signIn, startServer, stopServer, submitSignIn, token } from "./helpers";

// The server under test was started with CRONWATCH_ADMIN_PASSWORD (see playwright.config.ts).
const ADMIN_PASSWORD = "e2e-admin-password";

test("an anonymous visitor is sent to the sign-in page", async ({ page }) => {
  await page.goto("/monitoring?tab=crons");
  await expect(page).toHaveURL(/\/login\?next=/);
  await expect(page.getByRole("button", { name: "Sign in" })).toBeVisible();
});

test("a wrong password fails, the right one lands on the dashboard", async ({ page }) => {
  // Through the helper: earlier tests may have spent this address's attempts.
  await submitSignIn(page, "admin", "wrong-password");
  await expect(page.getByRole("alert")).toHaveText("Wrong user name or password.");
  await expect(page).toHaveURL(/\/login\?error=invalid/);

  await submitSignIn(page, "admin", ADMIN_PASSWORD);
  await expect(page).toHaveURL(/\/monitoring$/);
  await expect(page.locator(".who")).toContainText("admin");
  await page.screenshot({ path: "test-results/monitoring-signed-in.png" });

  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/login$/);
  await page.goto("/monitoring");
  await expect(page).toHaveURL(/\/login\?next=/);
});

test("an open dashboard whose user gets a new password goes back to sign-in", async ({ page }) => {
  cli(["user", "add", "sally", "--role", "viewer", "--password-stdin"], "password-of-sally\n");
  await signIn(page, "sally", "password-of-sally");
  cli(["user", "passwd", "sally", "--password-stdin"], "a-brand-new-password\n");
  // Open streams check their session every 15 s.
  await expect(page).toHaveURL(/\/login/, { timeout: 25_000 });
  await signIn(page, "sally", "a-brand-new-password");
});

test("an open dashboard keeps its user signed in past the idle window; a closed one does not", async ({ browser, page, request }) => {
  test.setTimeout(60_000);
  // A server whose sessions end after 4 s without use.
  const base = `http://127.0.0.1:${Number(process.env.E2E_PORT ?? 3210) + 2}`;
  const server = await startServer(Number(new URL(base).port), ["--session-idle", "4s"]);
  try {
    cli(["user", "add", "wally", "--role", "viewer", "--password-stdin"], "password-of-wally\n");
    await signIn(page, "wally", "password-of-wally", base);
    const closed = await browser.newContext();
    const other = await closed.newPage();
    await signIn(other, "wally", "password-of-wally", base);
    await other.close();

    // Three windows with nothing but the open page's stream.
    await page.waitForTimeout(12_000);
    const auth = { Authorization: `Bearer ${token("ingest")}` };
    const started = await request.post(`${base}/api/v1/executions/start`, { headers: auth, data: { job: "night-shift" } });
    expect(started.status()).toBe(201);
    await expect(page.locator('tr[data-job="night-shift"]')).toBeVisible({ timeout: 2000 });
    await expect(page).toHaveURL(/\/monitoring$/);
    await page.reload();
    await expect(page).toHaveURL(/\/monitoring$/);
    await expect(page.locator(".live-indicator[data-live=true]")).toBeVisible();

    // The session with no page open has ended.
    const again = await closed.newPage();
    await again.goto(`${base}/monitoring`);
    await expect(again).toHaveURL(/\/login\?next=/);
    await closed.close();
  } finally {
    await stopServer(server);
  }
});
