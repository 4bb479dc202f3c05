import { ChildProcess, execFileSync, spawn } from "node:child_process";
import { expect, Page } from "@playwright/test";

export const BIN = "../target/release/cronwatch";
export const ADMIN_PASSWORD = "e2e-admin-password";
export const DB_ENV = { ...process.env, DATABASE_URL: process.env.E2E_DATABASE_URL ?? "" };

/** Runs the real CLI against the server's database; returns its stdout. */
export function cli(args: string[], input?: string): string {
  return execFileSync(BIN, args, { env: DB_ENV, input }).toString();
}

/** Runs SQL in the server's database (for states a test cannot wait for, such as
 *  events past their retention). */
export function psql(sql: string): string {
  return execFileSync("psql", [DB_ENV.DATABASE_URL, "-v", "ON_ERROR_STOP=1", "-qc", sql]).toString();
}

/** A fresh API token of `scope`, made with `cronwatch token create`. */
export function token(scope: "ingest" | "read" | "admin" | "agent"): string {
  const out = cli(["token", "create", `e2e-${scope}-${Date.now()}-${Math.random()}`, "--scope", scope]);
  return out.trim().split("\n").pop()!;
}

/** Fills and sends the sign-in form. Should the address be told to wait (429: a
 *  second server started with the default 20 sign-ins per address, say), it waits as a
 *  person would, then sends the form again. Right or wrong password alike. */
export async function submitSignIn(page: Page, user: string, password: string, loginUrl = "/login") {
  for (let attempt = 0; ; attempt++) {
    await page.goto(loginUrl);
    await page.getByLabel("User name").fill(user);
    await page.getByLabel("Password").fill(password);
    const answer = page.waitForResponse((r) => r.url().endsWith("/auth/login") && r.request().method() === "POST");
    await page.getByRole("button", { name: "Sign in" }).click();
    const resp = await answer;
    if (resp.status() !== 429 || attempt === 3) break;
    await page.waitForTimeout(Number(resp.headers()["retry-after"] ?? "15") * 1000 + 200);
  }
}

/** Signs in through the form and waits for the live dashboard. */
export async function signIn(page: Page, user = "admin", password = ADMIN_PASSWORD, base = "") {
  await submitSignIn(page, user, password, `${base}/login`);
  await expect(page).toHaveURL(/\/monitoring$/);
  await expect(page.locator(".live-indicator[data-live=true]")).toBeVisible();
}

/** A second cronwatch on `port` over the same database, with extra `serve` options. */
export async function startServer(port: number, options: string[] = []): Promise<ChildProcess> {
  const child = spawn(BIN, ["serve", "--bind", `127.0.0.1:${port}`, ...options], { env: DB_ENV, stdio: "ignore" });
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok) return child;
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("the second server did not start");
}

export async function stopServer(child: ChildProcess) {
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  await exited;
}
