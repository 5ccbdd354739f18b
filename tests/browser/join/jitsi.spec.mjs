// A Jitsi session on the join page: after the device check the page loads the
// provider's external_api.js from the configured domain (allowed by the
// page's CSP) and embeds the meeting with the grant's room and JWT. There is
// no Jitsi server offline, so the script is served by the test (Playwright
// route) as a stand-in that records what the page asked for; the daemon's
// real CSP still applies to it. The driver verifies the JWT with PyJWT.
//
// Env: CONSULTD_URL, JITSI_INVITE, JITSI_DOMAIN.

import assert from "node:assert/strict";
import { run, newContext, screenshot } from "../lib/browser.mjs";

const STEP = 30_000;
const FAKE_API = `
window.JitsiMeetExternalAPI = function (domain, options) {
  window.__jitsi = { domain, roomName: options.roomName, jwt: options.jwt,
                     displayName: options.userInfo && options.userInfo.displayName,
                     parentIsFrameBox: options.parentNode && options.parentNode.id };
  const frame = document.createElement('iframe');
  frame.src = 'https://' + domain + '/' + options.roomName;
  frame.title = 'meeting';
  options.parentNode.appendChild(frame);
  this.listeners = {};
  this.addListener = (name, fn) => { this.listeners[name] = fn; window.__jitsiApi = this; };
};`;

await run("join page: Jitsi embed", async (browser) => {
  const context = await newContext(browser);
  const domain = process.env.JITSI_DOMAIN;
  let scriptRequests = 0;
  await context.route(`https://${domain}/external_api.js`, (route) => {
    scriptRequests += 1;
    route.fulfill({ status: 200, contentType: "application/javascript", body: FAKE_API });
  });
  await context.route(`https://${domain}/**`, (route) => {
    if (route.request().url().endsWith("/external_api.js")) return route.fallback();
    return route.fulfill({ status: 200, contentType: "text/html", body: "<!doctype html><title>meeting</title>" });
  });
  const page = await context.newPage();
  await page.goto(new URL(process.env.JITSI_INVITE).pathname);
  await page.locator("#join-button:enabled").click({ timeout: STEP });
  await page.locator("#screen-provider").waitFor({ state: "visible", timeout: STEP });
  await page.waitForFunction(() => window.__jitsi, null, { timeout: STEP });
  const seen = await page.evaluate(() => window.__jitsi);
  assert.equal(scriptRequests, 1);
  assert.equal(seen.domain, domain);
  assert.equal(seen.parentIsFrameBox, "provider-frame");
  assert.equal(seen.displayName, "Pat Patient");
  assert.match(seen.roomName, /^consult-[a-z2-7]+$/);
  assert.equal(await page.locator("#provider-frame iframe").count(), 1);
  // The meeting's end brings the page to its ended screen.
  await page.evaluate(() => window.__jitsiApi.listeners.readyToClose());
  await page.locator("#screen-ended").waitFor({ state: "visible", timeout: STEP });
  await screenshot(page, "jitsi-ended");
  assert.deepEqual(context.problems, [], context.problems.join("\n"));
  console.log(`JITSI_SEEN ${JSON.stringify(seen)}`);
});
