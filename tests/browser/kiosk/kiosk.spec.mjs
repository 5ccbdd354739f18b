// An exam-room kiosk: enrolls once with a code, shows its idle screen (room,
// next consultation, clock), survives a browser restart (the device cookie
// persists: a new page of the same profile goes straight to idle), joins the
// call by itself when the doctor's session for this device starts (no
// click), sees the doctor's video, and returns to idle when the doctor ends
// the call.
//
// Env: CONSULTD_URL, ENROLLMENT_CODE, ROOM_NAME, DOCTOR_INVITE, SESSION_ID, CONSULTD_API_KEY.

import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { run, newContext, screenshot, watchPage, CHROMIUM, CHROMIUM_FLAGS, BASE_URL } from "../lib/browser.mjs";
import { checkAccessibility } from "../join/a11y.mjs";

const BASE = process.env.CONSULTD_URL;
const KEY = process.env.CONSULTD_API_KEY;
const STEP = 30_000;

async function rest(method, path, body) {
  const response = await fetch(BASE + path, {
    method,
    headers: { Authorization: `Bearer ${KEY}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await response.json().catch(() => null);
  assert.ok(response.ok, `${method} ${path} -> ${response.status} ${JSON.stringify(data)}`);
  return data;
}

// The kiosk runs in a persistent profile, as a real kiosk does, so closing and
// relaunching the browser keeps the device cookie and the device choices.
const profile = mkdtempSync(join(tmpdir(), "consultd-kiosk-profile-"));
async function launchKiosk() {
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [...CHROMIUM_FLAGS, "--use-fake-ui-for-media-stream", "--autoplay-policy=no-user-gesture-required"],
    baseURL: BASE_URL,
    viewport: { width: 1280, height: 800 },
    timeout: 60_000,
  });
  context.problems = [];
  context.on("page", (page) => watchPage(page, context.problems));
  const page = context.pages()[0] || (await context.newPage());
  watchPage(page, context.problems);
  page.on("console", (m) => console.log(`[kiosk console ${m.type()}] ${m.text()}`));
  return { context, page };
}

let kiosk = null;
try {
  await run("kiosk", async (browser) => {
    // 1. Enroll once.
    kiosk = await launchKiosk();
    await kiosk.page.goto("/kiosk");
    await kiosk.page.locator("#screen-enroll").waitFor({ state: "visible", timeout: STEP });
    await checkAccessibility(kiosk.page, "kiosk enrollment");
    await kiosk.page.locator("#enroll-code").fill("WRNG-CODE-2345");
    await kiosk.page.locator("#enroll-form button[type=submit]").click();
    await kiosk.page.locator("#enroll-error").waitFor({ state: "visible", timeout: STEP });
    await kiosk.page.locator("#enroll-code").fill(process.env.ENROLLMENT_CODE.toLowerCase());
    await kiosk.page.locator("#enroll-code").press("Enter");
    await kiosk.page.locator("#screen-idle").waitFor({ state: "visible", timeout: STEP });
    assert.equal(await kiosk.page.locator("#room-name").textContent(), process.env.ROOM_NAME);
    await kiosk.page.waitForFunction(() => /\d/.test(document.getElementById("clock").textContent), null, { timeout: STEP });
    await kiosk.page.waitForFunction(() => /Dr\. House/.test(document.getElementById("next-session").textContent), null,
      { timeout: STEP });
    // Choose the camera/microphone once; the choice is kept for this device.
    await kiosk.page.locator("#settings summary").click();
    await kiosk.page.waitForFunction(() => document.getElementById("kiosk-camera").options.length > 0, null, { timeout: STEP });
    const camera = await kiosk.page.locator("#kiosk-camera").inputValue();
    await kiosk.page.locator("#kiosk-camera").selectOption(camera);
    await kiosk.page.locator("#settings summary").click();
    await checkAccessibility(kiosk.page, "kiosk idle");
    await screenshot(kiosk.page, "kiosk-idle");
    assert.deepEqual(kiosk.context.problems, [], kiosk.context.problems.join("\n"));

    // 2. Browser restart: straight back to idle, no enrollment, choices kept.
    await kiosk.context.close();
    kiosk = await launchKiosk();
    await kiosk.page.goto("/kiosk");
    await kiosk.page.locator("#screen-idle").waitFor({ state: "visible", timeout: STEP });
    const kept = await kiosk.page.evaluate(() => {
      const id = document.body.dataset.deviceId;
      return JSON.parse(localStorage.getItem(`consultd.kiosk.devices.${id}`) || "{}");
    });
    assert.equal(kept.videoId, camera, "the camera choice did not survive the restart");

    // Network loss while idle: the kiosk says so, keeps its screen, and recovers by itself.
    await kiosk.context.setOffline(true);
    await kiosk.page.locator("#offline").waitFor({ state: "visible", timeout: STEP });
    assert.equal(await kiosk.page.locator("#screen-idle").isVisible(), true);
    await kiosk.context.setOffline(false);
    await kiosk.page.locator("#offline").waitFor({ state: "hidden", timeout: STEP });

    // 3. The doctor waits in the session; the host's system starts it; the kiosk joins by itself.
    const doctorContext = await newContext(browser);
    const doctor = await doctorContext.newPage();
    doctor.on("console", (m) => console.log(`[doctor console ${m.type()}] ${m.text()}`));
    await doctor.goto(new URL(process.env.DOCTOR_INVITE).pathname);
    await doctor.locator("#join-button:enabled").click({ timeout: STEP });
    await doctor.locator("#screen-waiting").waitFor({ state: "visible", timeout: STEP });
    await rest("POST", `/api/v1/sessions/${process.env.SESSION_ID}/start`, {});
    await kiosk.page.locator("#screen-call").waitFor({ state: "visible", timeout: STEP });
    for (const [page, who] of [[kiosk.page, "kiosk"], [doctor, "doctor"]]) {
      await page.waitForFunction(() => {
        const v = document.querySelector("video.remote-video");
        return v && !v.paused && v.videoWidth > 0 && v.videoHeight > 0 && v.currentTime > 0.5;
      }, null, { timeout: 45_000 }).catch(async (e) => {
        await screenshot(page, `${who}-no-remote-video`);
        for (const [p, w] of [[kiosk.page, "kiosk"], [doctor, "doctor"]]) {
          console.log(`${w} diagnostics: ${JSON.stringify(await p.evaluate(() => window.consultdDiagnostics?.()))}`);
        }
        throw new Error(`${who}: no remote video: ${e.message}`);
      });
    }
    await screenshot(kiosk.page, "kiosk-in-call");

    // 4. The doctor ends the call: the kiosk is back on its idle screen.
    doctor.once("dialog", (dialog) => dialog.accept());
    await doctor.locator("#btn-end").click();
    await kiosk.page.locator("#screen-idle").waitFor({ state: "visible", timeout: STEP });
    assert.equal(await kiosk.page.locator("video.remote-video").count(), 0);
    const session = await rest("GET", `/api/v1/sessions/${process.env.SESSION_ID}`);
    assert.equal(session.status, "ended");
    assert.deepEqual(kiosk.context.problems, [], kiosk.context.problems.join("\n"));
    assert.deepEqual(doctorContext.problems, [], doctorContext.problems.join("\n"));
    await kiosk.context.close();
  });
} finally {
  if (kiosk) await kiosk.context.close().catch(() => {});
  rmSync(profile, { recursive: true, force: true });
}
