"""Native recording through the real daemon with real WebRTC peers.

Two GStreamer webrtcbin participants (host and patient) join a webrtc session
through the daemon's signaling, relay-only through the embedded TURN relay,
and send video + audio to each other. The host's system starts recording via
the API: the recorder joins the room as role `recorder` (announced to both),
offers to each sender, and records each one relay-only too. After a measured
while the recording is stopped via the API; then:

  * GET /recordings shows one available recording per participant with the
    tracks, size and duration; the session events tell the story;
  * GET /media (full) decrypts on the fly to a file gst-discoverer-1.0 reports
    with one video and one audio stream and the recorded duration (+-1 s);
    Range requests return exactly those bytes;
  * the call goes on after the stop (the peers still get each other's media),
    and ending the session ends everything.
"""
import asyncio
import sys
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from mediapeer import MediaPeer, discover, harness, webrtc_recording_daemon  # noqa: E402

RECORD_SECONDS = 4.0


class NativeRecordingTest(unittest.TestCase):
    def test_record_two_senders_relay_only(self):
        d = webrtc_recording_daemon(self, "rec-native")
        d.start()
        admin = d.create_api_key("admin")
        writer = d.create_api_key("recordings:write")
        reader = d.create_api_key("recordings:read")
        r = d.request("POST", "/api/v1/sessions", harness.session_body(provider="webrtc"), key=admin)
        self.assertEqual(201, r.status, r.describe())
        sid = r.json()["id"]
        self.assertEqual(200, d.request("POST", f"/api/v1/sessions/{sid}/start", {}, key=admin).status)

        async def scenario():
            host = MediaPeer(d, admin, sid, "dr-house")
            patient = MediaPeer(d, admin, sid, "pat-1")
            try:
                await host.join()
                await patient.join()  # offers to the host
                await host.wait_receiving("pat-1")
                await patient.wait_receiving("dr-house")

                r = d.request("POST", f"/api/v1/sessions/{sid}/recording/start", key=writer)
                self.assertEqual(200, r.status, r.describe())
                self.assertTrue(r.json()["recording"])
                self.assertEqual("native", r.json()["mode"])
                r = d.request("POST", f"/api/v1/sessions/{sid}/recording/start", key=writer)
                self.assertEqual((409, "RECORDING_ALREADY_ACTIVE"), (r.status, r.error_code()))
                for peer in (host, patient):
                    joined = await peer.wait_for(
                        lambda p=peer: [m for m in p.seen("participant-joined")
                                        if m["participant"]["role"] == "recorder"], "the recorder's participant-joined")
                    self.assertEqual("consultd-recorder", joined[0]["participant"]["id"])
                # Both were in the room before the recorder: it offers, they answer.
                await host.wait_for(lambda: host.seen("offer", **{"from": "consultd-recorder"}), "the recorder's offer")
                for who in ("dr-house", "pat-1"):
                    await asyncio.to_thread(d.wait_for_log, rf"recorder/{who}: media flowing", 40)
                media_start = time.monotonic()
                relay_lines = d.log_count(r"recorder/(dr-house|pat-1): ICE gathering complete: 0 host, 0 srflx, [1-9]")
                self.assertEqual(2, relay_lines, "the recorder gathered relay candidates only:\n" +
                                 "\n".join(l for l in d.stderr_text().splitlines() if "ICE gathering" in l))
                await asyncio.sleep(RECORD_SECONDS)  # the recorded time
                recorded = time.monotonic() - media_start
                r = await asyncio.to_thread(d.request, "POST", f"/api/v1/sessions/{sid}/recording/stop",
                                            None, writer)
                self.assertEqual(200, r.status, r.describe())
                state = r.json()
                self.assertFalse(state["recording"])
                self.assertEqual(2, len(state["recordings"]), state)

                # The call continues without the recorder.
                await host.wait_for(lambda: host.seen("participant-left", participant_id="consultd-recorder"),
                                    "the recorder's participant-left")
                before = host.links["pat-1"].received()[0]
                await host.wait_for(lambda: host.links["pat-1"].received()[0] > before + 20,
                                    "media from the patient after the recording stopped")
                return recorded
            finally:
                await host.close()
                await patient.close()

        recorded = asyncio.run(asyncio.wait_for(scenario(), 180))

        rows = d.request("GET", f"/api/v1/recordings?session_id={sid}", key=reader).json()["recordings"]
        self.assertEqual({"dr-house", "pat-1"}, {row["participant_id"] for row in rows})
        for row in rows:
            self.assertEqual("available", row["status"], row)
            self.assertEqual("native", row["source"])
            self.assertEqual("video/webm", row["content_type"])
            self.assertEqual(sorted(["video/VP8", "audio/OPUS"]), sorted(row["tracks"]))
            self.assertGreater(row["bytes"], 10000)
            self.assertAlmostEqual(recorded, row["duration_seconds"], delta=1.0)
            self.assertIsNotNone(row["finished_at"])

            r = d.request("GET", f"/api/v1/recordings/{row['id']}/media", key=reader)
            self.assertEqual(200, r.status, r.describe())
            self.assertEqual(row["bytes"], len(r.body))
            self.assertEqual(b"\x1a\x45\xdf\xa3", r.body[:4], "an EBML (WebM) file")
            out = d.tmp / f"{row['id']}.webm"
            out.write_bytes(r.body)
            video, audio, duration, text = discover(out)
            self.assertEqual((1, 1), (video, audio), text)
            self.assertIsNotNone(duration, text)
            self.assertAlmostEqual(recorded, duration, delta=1.0, msg=text)

            # A range across a chunk boundary (64 KiB plaintext chunks) when the file is that big.
            first, last = len(r.body) // 3, min(len(r.body) - 1, len(r.body) // 3 + 70000)
            r2 = d.request("GET", f"/api/v1/recordings/{row['id']}/media", key=reader,
                           headers={"Range": f"bytes={first}-{last}"})
            self.assertEqual(206, r2.status, r2.describe())
            self.assertEqual(r.body[first:last + 1], r2.body)
            self.assertEqual(f"bytes {first}-{last}/{len(r.body)}", r2.headers["content-range"])

        types = [e["type"] for e in d.request("GET", f"/api/v1/sessions/{sid}/events", key=admin).json()["events"]]
        self.assertIn("recording_started", types)
        self.assertIn("recording_stopped", types)
        self.assertEqual(2, types.count("recording_available"), types)
        self.assertNotIn("recording_failed", types)
        # The recorder is no session participant: no participant_joined event for it.
        events = d.request("GET", f"/api/v1/sessions/{sid}/events", key=admin).json()["events"]
        self.assertFalse([e for e in events if e["participant_id"] == "consultd-recorder"])
        self.assertEqual(200, d.request("POST", f"/api/v1/sessions/{sid}/end", {}, key=admin).status)


if __name__ == "__main__":
    unittest.main(verbosity=2)
