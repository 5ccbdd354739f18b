// Launching Debian's Chromium for the browser tests (playwright-core, no
// browser download). Every spec imports this so the flags are the same
// everywhere: headless, fake camera and microphone, no permission prompts,
// and no background networking (which would flood the closed network with
// refused connections; see shared MEDIA-NOTES).

import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";
import { join } from "node:path";

export const BASE_URL = process.env.CONSULTD_URL || "http://127.0.0.1:8080";
export const ARTIFACTS_DIR = process.env.CONSULTD_ARTIFACTS_DIR || "browser-artifacts";
export const CHROMIUM = process.env.CONSULTD_CHROMIUM || "/usr/bin/chromium";

export const CHROMIUM_FLAGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-dev-shm-usage",
  "--use-fake-device-for-media-stream",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-default-apps",
  "--disable-domain-reliability",
  "--disable-features=MediaRouter,OptimizationHints,Translate",
  "--no-first-run",
  "--no-default-browser-check",
  "--metrics-recording-only",
  "--password-store=basic",
];

/// A headless Chromium. `fakeUi` (default true) grants camera/microphone
/// without a prompt; pass false to test the permission-denied path.
export async function launchChromium({ fakeUi = true, extraArgs = [] } = {}) {
  const args = [...CHROMIUM_FLAGS, ...extraArgs];
  if (fakeUi) args.push("--use-fake-ui-for-media-stream");
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args, timeout: 60_000 });
}

/// A browser context whose page errors and CSP violations are collected in
/// `problems` (a test asserts it stays empty).
export async function newContext(browser, options = {}) {
  const context = await browser.newContext({ baseURL: BASE_URL, ...options });
  context.problems = [];
  context.on("page", (page) => watchPage(page, context.problems));
  return context;
}

export function watchPage(page, problems) {
  page.on("pageerror", (error) => problems.push(`page error on ${page.url()}: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error" && /Content Security Policy|Refused to/i.test(message.text())) {
      problems.push(`CSP on ${page.url()}: ${message.text()}`);
    }
  });
}

/// Writes a PNG of `page` into the artifacts folder and returns its path.
export async function screenshot(page, name) {
  mkdirSync(ARTIFACTS_DIR, { recursive: true });
  const path = join(ARTIFACTS_DIR, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/// Runs `body` with a browser and always closes it; exits non-zero on failure
/// so the Python driver (and CTest) sees it.
export async function run(name, body, launchOptions = {}) {
  const browser = await launchChromium(launchOptions);
  try {
    await body(browser);
    console.log(`${name}: ok`);
  } catch (error) {
    console.error(`${name}: FAILED\n${error && error.stack ? error.stack : error}`);
    process.exitCode = 1;
  } finally {
    await browser.close();
  }
}
