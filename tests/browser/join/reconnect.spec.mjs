// Network drop in the middle of a call: the Python driver kills the daemon
// (signaling and the embedded TURN relay vanish at once: every socket and
// every relay allocation is gone) and starts it again on the same ports. Both
// pages must reconnect to signaling by themselves (backoff), restore the media
// path through the relay and show moving video again, and the chat must work,
// with no click. Coordination with the driver through files in the artifacts
// folder: this spec writes "in-call", the driver writes "restarted".
//
// Env: CONSULTD_URL, DOCTOR_INVITE, PATIENT_INVITE, SESSION_ID, CONSULTD_API_KEY.

import assert from "node:assert/strict";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { run, newContext, screenshot, ARTIFACTS_DIR } from "../lib/browser.mjs";

const BASE = process.env.CONSULTD_URL;
const KEY = process.env.CONSULTD_API_KEY;
const STEP = 30_000;

async function joinCall(page, invite) {
  await page.goto(new URL(invite).pathname);
  await page.locator("#join-button:enabled").click({ timeout: STEP });
  await page.locator("#screen-waiting").waitFor({ state: "visible", timeout: STEP });
}

/** Resolves once the remote video has decoded `frames` more frames. */
async function videoMoves(page, who, frames, timeout) {
  const start = await page.evaluate(() => document.querySelector("video.remote-video")?.getVideoPlaybackQuality().totalVideoFrames || 0);
  await page.waitForFunction((from) => {
    const v = document.querySelector("video.remote-video");
    return v && v.videoWidth > 0 && v.getVideoPlaybackQuality().totalVideoFrames > from;
  }, start + frames, { timeout, polling: 250 }).catch(async (e) => {
    await screenshot(page, `${who}-video-stalled`);
    console.log(`${who} diagnostics: ${JSON.stringify(await page.evaluate(() => window.consultdDiagnostics?.()))}`);
    throw new Error(`${who}: remote video does not move: ${e.message}`);
  });
}

async function waitForFile(name, timeout) {
  const end = Date.now() + timeout;
  while (!existsSync(join(ARTIFACTS_DIR, name))) {
    if (Date.now() > end) throw new Error(`the driver did not write ${name} within ${timeout / 1000} s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

await run("join page: reconnect after the daemon and relay vanish", async (browser) => {
  const doctorContext = await newContext(browser);
  const patientContext = await newContext(browser);
  const doctor = await doctorContext.newPage();
  const patient = await patientContext.newPage();
  await joinCall(doctor, process.env.DOCTOR_INVITE);
  await joinCall(patient, process.env.PATIENT_INVITE);
  const started = await fetch(`${BASE}/api/v1/sessions/${process.env.SESSION_ID}/start`, {
    method: "POST", headers: { Authorization: `Bearer ${KEY}`, "Content-Type": "application/json" }, body: "{}",
  });
  assert.equal(started.status, 200);
  await videoMoves(doctor, "doctor", 10, 45_000);
  await videoMoves(patient, "patient", 10, 45_000);

  writeFileSync(join(ARTIFACTS_DIR, "in-call"), "");
  await waitForFile("restarted", 60_000);
  // The pages notice the drop and show it.
  await patient.locator("#banner").waitFor({ state: "visible", timeout: STEP });

  // Back by themselves: signaling rejoined, media restored through the new relay.
  const t0 = Date.now();
  await videoMoves(doctor, "doctor", 30, 90_000);
  await videoMoves(patient, "patient", 30, 90_000);
  console.log(`media moving again ${((Date.now() - t0) / 1000).toFixed(1)} s after the daemon was back`);
  await screenshot(patient, "reconnected-patient");
  await patient.locator("#chat-input").fill("Still there after the drop?");
  await patient.locator("#chat-input").press("Enter");
  await doctor.locator("#chat-log li", { hasText: "Still there after the drop?" }).waitFor({ timeout: STEP });
  assert.deepEqual(doctorContext.problems, [], doctorContext.problems.join("\n"));
  assert.deepEqual(patientContext.problems, [], patientContext.problems.join("\n"));
});
