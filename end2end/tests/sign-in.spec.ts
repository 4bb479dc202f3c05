import { expect, test } from "@playwright/test";

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
