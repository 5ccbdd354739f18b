// A doctor and a patient join one native WebRTC session from their invite
// links, in two browser contexts, through the embedded TURN relay (relay-only
// ICE): device check, waiting room, the host's system starts the session,
// each sees the other's video playing, they chat, the doctor ends the call
// and the patient sees it ended. Then a browser whose camera permission is
// denied gets the explanation on the device check.
//
// Env: CONSULTD_URL, DOCTOR_INVITE, PATIENT_INVITE, SESSION_ID, CONSULTD_API_KEY.

import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import { run, newContext, screenshot, launchChromium, CHROMIUM, CHROMIUM_FLAGS } from "../lib/browser.mjs";
import { checkAccessibility, tabOrder } from "./a11y.mjs";

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

async function throughDeviceCheck(page, inviteUrl, who) {
  await page.goto(new URL(inviteUrl).pathname);
  await page.locator("#screen-check").waitFor({ state: "visible", timeout: STEP });
  // The fake camera is previewed and the pickers list the fake devices.
  await page.waitForFunction(() => {
    const v = document.getElementById("preview");
    return v && v.videoWidth > 0 && document.getElementById("camera-select").options.length > 0;
  }, null, { timeout: STEP });
  assert.equal(await page.locator("#media-problem").isHidden(), true, `${who}: unexpected media problem`);
  await checkAccessibility(page, `${who} device check`);
  // Keyboard: the pickers and the Join button are reachable with Tab.
  const order = await tabOrder(page, 8);
  for (const id of ["camera-select", "mic-select", "join-button"]) {
    assert.ok(order.includes(id), `${who}: ${id} not reachable with Tab (${order.join(", ")})`);
  }
  await page.locator("#join-button").click();
  await page.locator("#screen-waiting").waitFor({ state: "visible", timeout: STEP });
  // Joined the signaling room: the waiting room says so.
  await page.waitForFunction(() => document.getElementById("waiting-when").textContent.length > 0, null,
    { timeout: STEP });
}

async function remoteVideoPlays(page, who) {
  await page.waitForFunction(() => {
    const v = document.querySelector("video.remote-video");
    return v && !v.paused && v.readyState >= 2 && v.videoWidth > 0 && v.videoHeight > 0 && v.currentTime > 0.5;
  }, null, { timeout: 45_000 }).catch(async (e) => {
    await screenshot(page, `${who}-no-remote-video`);
    console.log(`${who} diagnostics: ${JSON.stringify(await page.evaluate(() => window.consultdDiagnostics?.()))}`);
    throw new Error(`${who}: the remote video is not playing: ${e.message}`);
  });
  return page.evaluate(() => {
    const v = document.querySelector("video.remote-video");
    return { width: v.videoWidth, height: v.videoHeight };
  });
}

await run("join page: doctor and patient", async (browser) => {
  const doctorContext = await newContext(browser, { viewport: { width: 1280, height: 800 } });
  const patientContext = await newContext(browser, { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  const doctor = await doctorContext.newPage();
  const patient = await patientContext.newPage();

  await throughDeviceCheck(doctor, process.env.DOCTOR_INVITE, "doctor");
  await throughDeviceCheck(patient, process.env.PATIENT_INVITE, "patient");
  // The doctor's screen share and "end" exist only for the host.
  assert.equal(await doctor.locator("#btn-end").isHidden(), true, "call controls shown before the call");

  // The host's system starts the session: both pages leave the waiting room.
  await rest("POST", `/api/v1/sessions/${process.env.SESSION_ID}/start`, {});
  await doctor.locator("#screen-call").waitFor({ state: "visible", timeout: STEP });
  await patient.locator("#screen-call").waitFor({ state: "visible", timeout: STEP });
  assert.equal(await doctor.locator("#btn-end").isVisible(), true, "the host has no end button");
  assert.equal(await patient.locator("#btn-end").isHidden(), true, "a patient got the end button");
  assert.equal(await patient.locator("#btn-screen").isHidden(), true, "a patient got screen share");

  const seenByDoctor = await remoteVideoPlays(doctor, "doctor");
  const seenByPatient = await remoteVideoPlays(patient, "patient");
  console.log(`doctor sees ${seenByDoctor.width}x${seenByDoctor.height}, patient sees ${seenByPatient.width}x${seenByPatient.height}`);

  // Relay only: the selected candidate pair of each page is a relay pair.
  for (const [page, who] of [[doctor, "doctor"], [patient, "patient"]]) {
    const quality = await page.waitForFunction(() => {
      const q = document.getElementById("quality");
      return q.dataset.level !== "unknown" && q.dataset.level;
    }, null, { timeout: STEP });
    console.log(`${who} quality indicator: ${await quality.jsonValue()}`);
  }

  // Chat both ways.
  await patient.locator("#chat-input").fill("Hello doctor, can you hear me?");
  await patient.locator("#chat-input").press("Enter");
  await doctor.locator("#chat-log li", { hasText: "Hello doctor, can you hear me?" }).waitFor({ timeout: STEP });
  await doctor.locator("#chat-input").fill("Yes, loud and clear.");
  await doctor.locator("#chat-form button[type=submit]").click();
  await patient.locator("#chat-log li", { hasText: "Yes, loud and clear." }).waitFor({ timeout: STEP });
  assert.match(await doctor.locator("#chat-log li").first().textContent(), /Pat Patient/);

  // Mute shows on the other side.
  await patient.locator("#btn-mic").click();
  await doctor.locator("figure.tile-remote .badge", { hasText: "muted" }).waitFor({ timeout: STEP });
  await patient.locator("#btn-mic").click();

  // A reload mid-call (the invite is bound to this browser by its rejoin
  // cookie): device check again, straight back into the running call, and
  // both sides see video again.
  await patient.reload();
  await patient.locator("#join-button:enabled").click({ timeout: STEP });
  await patient.locator("#screen-call").waitFor({ state: "visible", timeout: STEP });
  await remoteVideoPlays(patient, "patient after reload");
  const framesBefore = await doctor.evaluate(() =>
    document.querySelector("video.remote-video")?.getVideoPlaybackQuality().totalVideoFrames || 0);
  await doctor.waitForFunction((from) => {
    const v = document.querySelector("video.remote-video");
    return v && v.videoWidth > 0 && !v.paused && v.getVideoPlaybackQuality().totalVideoFrames > from + 15;
  }, framesBefore, { timeout: 45_000 });

  // Screen share (host): the patient sees the doctor's screen instead of the camera.
  await doctor.locator("#btn-screen").click();
  await doctor.waitForFunction(() => document.getElementById("btn-screen").getAttribute("aria-pressed") === "true",
    null, { timeout: STEP });
  await patient.locator("figure.tile-remote .badge", { hasText: "sharing screen" }).waitFor({ timeout: STEP });
  await doctor.locator("#btn-screen").click();
  await patient.waitForFunction(() => !/sharing/.test(document.querySelector("figure.tile-remote .badge").textContent),
    null, { timeout: STEP });

  await checkAccessibility(doctor, "doctor in call");
  await checkAccessibility(patient, "patient in call (phone)");
  await screenshot(doctor, "join-call-doctor");
  await screenshot(patient, "join-call-patient-phone");

  // The doctor ends the call for everyone.
  doctor.once("dialog", (dialog) => dialog.accept());
  await doctor.locator("#btn-end").click();
  await patient.locator("#screen-ended").waitFor({ state: "visible", timeout: STEP });
  assert.match(await patient.locator("#ended-title").textContent(), /ended/i);
  await doctor.locator("#screen-ended").waitFor({ state: "visible", timeout: STEP });
  const session = await rest("GET", `/api/v1/sessions/${process.env.SESSION_ID}`);
  assert.equal(session.status, "ended");

  // A reload after the end shows "ended", not an error (the browser is still bound).
  await patient.reload();
  await patient.locator("#screen-ended").waitFor({ state: "visible", timeout: STEP });

  // The same link in another browser context is refused with an explanation.
  const other = await (await newContext(browser)).newPage();
  await other.goto(new URL(process.env.PATIENT_INVITE).pathname);
  await other.locator("#screen-error").waitFor({ state: "visible", timeout: STEP });
  assert.match(await other.locator("#error-text").textContent(), /already opened/);

  assert.deepEqual(doctorContext.problems, [], doctorContext.problems.join("\n"));
  assert.deepEqual(patientContext.problems, [], patientContext.problems.join("\n"));
}, { extraArgs: ["--auto-select-desktop-capture-source=Entire screen", "--auto-accept-this-tab-capture"] });

// Camera permission denied: a browser without the fake permission UI, and
// the permission explicitly refused for the origin.
const denied = await launchChromium({ fakeUi: false });
try {
  const context = await newContext(denied);
  await context.clearPermissions();
  const page = await context.newPage();
  await page.goto(new URL(process.env.DENIED_INVITE).pathname);
  await page.locator("#media-problem").waitFor({ state: "visible", timeout: STEP });
  const title = await page.locator("#media-problem-title").textContent();
  const text = await page.locator("#media-problem-text").textContent();
  assert.match(title, /blocked/i, title);
  assert.match(text, /Allow/, text);
  assert.equal(await page.evaluate(() => document.body.dataset.mediaProblem), "denied");
  assert.equal(await page.locator("#join-chat-only").isVisible(), true, "no chat-only way forward");
  assert.equal(await page.locator("#join-button").isDisabled(), true);
  await checkAccessibility(page, "camera denied");
  await screenshot(page, "join-camera-denied");
  // Text-chat fallback: without media the patient still joins and chats.
  await page.locator("#join-chat-only").click();
  await page.locator("#screen-waiting").waitFor({ state: "visible", timeout: STEP });
  await rest("POST", `/api/v1/sessions/${process.env.DENIED_SESSION_ID}/start`, {});
  await page.locator("#screen-call").waitFor({ state: "visible", timeout: STEP });
  assert.match(await page.locator("#banner").textContent(), /chat only/);
  assert.equal(await page.locator("#btn-mic").isHidden(), true);
  await page.locator("#chat-input").fill("I have no camera, can we chat?");
  await page.locator("#chat-input").press("Enter");
  await page.locator("#chat-log li", { hasText: "I have no camera, can we chat?" }).waitFor({ timeout: STEP });
  assert.deepEqual(context.problems, [], context.problems.join("\n"));
  console.log("join page: camera denied: ok");
} catch (error) {
  console.error(`join page: camera denied: FAILED\n${error && error.stack ? error.stack : error}`);
  process.exitCode = 1;
} finally {
  await denied.close();
}

// No camera or microphone at all: a browser without the fake devices (the
// permission granted) gets "No camera or microphone found".
const noDevices = await chromium.launch({
  executablePath: CHROMIUM, headless: true, timeout: 60_000,
  args: [...CHROMIUM_FLAGS.filter((f) => f !== "--use-fake-device-for-media-stream"), "--use-fake-ui-for-media-stream"],
});
try {
  const context = await newContext(noDevices);
  const page = await context.newPage();
  await page.goto(new URL(process.env.NODEVICE_INVITE).pathname);
  await page.locator("#media-problem").waitFor({ state: "visible", timeout: STEP });
  const title = await page.locator("#media-problem-title").textContent();
  assert.match(title, /No camera or microphone found/, title);
  assert.equal(await page.locator("#join-chat-only").isVisible(), true);
  assert.deepEqual(context.problems, [], context.problems.join("\n"));
  console.log("join page: no devices: ok");
} catch (error) {
  console.error(`join page: no devices: FAILED\n${error && error.stack ? error.stack : error}`);
  process.exitCode = 1;
} finally {
  await noDevices.close();
}
