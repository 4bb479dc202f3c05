import { defineConfig } from "@playwright/test";

// The server under test: the release binary over a fresh database made by scripts/test.sh.
const port = Number(process.env.E2E_PORT ?? 3210);

export default defineConfig({
  testDir: "./tests",
  outputDir: "./test-results",
  timeout: 30_000,
  workers: 1,
  reporter: [["list"]],
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    browserName: "chromium",
    screenshot: "only-on-failure",
    launchOptions: {
      // Debian's chromium; Playwright never downloads a browser here.
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    },
  },
  webServer: {
    command: `../target/release/cronwatch serve --bind 127.0.0.1:${port}`,
    url: `http://127.0.0.1:${port}/healthz`,
    env: {
      DATABASE_URL: process.env.E2E_DATABASE_URL ?? "",
      CRONWATCH_ADMIN_PASSWORD: "e2e-admin-password",
      // The secret the http job of run-now.spec.ts sends.
      CRONWATCH_SECRET_E2E: "e2e-secret",
      // Every test signs in from 127.0.0.1, ~25 sign-ins in 90 s: past the 20 an address
      // may make at once, tests would wait out the throttle (15 s a sign-in) and run
      // past their time. As behind a proxy, the shared address gets more.
      CRONWATCH_SIGN_INS_PER_ADDRESS: "1000",
    },
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: "pipe",
  },
});
