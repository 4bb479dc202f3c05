import { expect, test } from "@playwright/test";
import { cli, signIn } from "./helpers";

// The server under test was started with CRONWATCH_ADMIN_PASSWORD (see playwright.config.ts).
const ADMIN_PASSWORD = "e2e-admin-password";

test("an anonymous visitor is sent to the sign-in page", async ({ page }) => {
  await page.goto("/monitoring?tab=crons");
  await expect(page).toHaveURL(/\/login\?next=/);
  await expect(page.getByRole("button", { name: "Sign in" })).toBeVisible();
});

test("a wrong password fails, the right one lands on the dashboard", async ({ page }) => {
  await page.goto("/login");
  await page.getByLabel("User name").fill("admin");
  await page.getByLabel("Password").fill("wrong-password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("alert")).toHaveText("Wrong user name or password.");
  await expect(page).toHaveURL(/\/login\?error=invalid/);

  await page.getByLabel("User name").fill("admin");
  await page.getByLabel("Password").fill(ADMIN_PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
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
