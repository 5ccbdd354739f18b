#!/usr/bin/python3
"""it_signal_flow: the webrtc provider's grant and the WebSocket signaling
happy paths against the built daemon: two participants join, offer/answer/ICE
are relayed with `from` stamped by the server, media-state and chat (stored as
session events), leave, host `end` (REST then shows ended), end via REST closes
the room, waiting room until start, reconnect resumes without duplicate."""

import asyncio
import os
import stat
import unittest

import jwt  # Debian: python3-jwt

from sigclient import Peer, create_session, grant, harness, run, webrtc_daemon

HOST, PATIENT, GUEST = "dr-house", "pat-1", "guest-1"


class SignalFlowTest(harness.ApiTestCase):
    @classmethod
    def setUpClass(cls):
        cls.daemon = webrtc_daemon(None, "sigflow")
        cls.key = cls.daemon.create_api_key("admin")
        cls.daemon.start()

    @classmethod
    def tearDownClass(cls):
        cls.daemon.stop()
        cls.daemon.cleanup()

    def events(self, session_id):
        r = self.daemon.request("GET", f"/api/v1/sessions/{session_id}/events?limit=200", key=self.key)
        self.assertStatus(r, 200)
        return r.json()["events"]

    def test_grant_carries_signaling_token_url_and_turn(self):
        s = create_session(self.daemon, self.key, start=False)
        g = grant(self.daemon, self.key, s["id"], HOST)
        self.assertEqual(g["provider"], "webrtc")
        url = f"ws://127.0.0.1:{self.daemon.port}/api/v1/signal"
        self.assertEqual(g["join_url"], url)
        self.assertEqual(g["client"]["signaling_url"], url)
        self.assertEqual(g["client"]["ice_transport_policy"], "all")
        self.assertNotIn(g["token"], g["join_url"])
        turn = [x for x in g["ice_servers"] if x.get("username")]
        self.assertTrue(turn and all(u.startswith("turn:127.0.0.1:") for u in turn[0]["urls"]), g["ice_servers"])
        # The token is an HS256 JWT under the daemon-generated key (mode 0600).
        key_path = self.daemon.tmp / "state" / "signaling.key"
        self.assertEqual(stat.S_IMODE(os.stat(key_path).st_mode), 0o600)
        key = key_path.read_text().strip()
        claims = jwt.decode(g["token"], key, algorithms=["HS256"], audience="consultd-signal")
        self.assertEqual((claims["sid"], claims["sub"], claims["role"]), (s["id"], HOST, "host"))
        self.assertTrue(claims["jti"])
        self.assertLessEqual(claims["exp"] - claims["iat"], 600)
        self.assertIn(claims["exp"], (harness_epoch(g["expires_at"]),))
        # Never logged.
        self.assertNotIn(g["token"], self.daemon.stderr_text())
        self.assertNotIn(key, self.daemon.stderr_text())

    def test_two_participants_negotiate_chat_leave_and_host_ends(self):
        s = create_session(self.daemon, self.key)
        host_token = grant(self.daemon, self.key, s["id"], HOST)["token"]
        patient_token = grant(self.daemon, self.key, s["id"], PATIENT)["token"]

        async def scenario():
            host = await Peer.connect(self.daemon, "host")
            joined = await host.join(host_token)
            self.assertEqual(joined["self"]["id"], HOST)
            self.assertEqual(joined["session"], {"id": s["id"], "status": "active"})
            self.assertEqual(joined["participants"], [])
            patient = await Peer.connect(self.daemon, "patient")
            pj = await patient.join(patient_token, session_id=s["id"])
            self.assertEqual([p["id"] for p in pj["participants"]], [HOST])
            announced = await host.expect("participant-joined")
            self.assertEqual(announced["participant"], {"id": PATIENT, "name": "Patient One", "role": "patient"})

            # offer with a forged `from`: the server stamps the real sender
            await host.send({"type": "offer", "to": PATIENT, "from": GUEST, "sdp": "v=0 offer-sdp"})
            offer = await patient.expect("offer")
            self.assertEqual((offer["from"], offer["to"], offer["sdp"]), (HOST, PATIENT, "v=0 offer-sdp"))
            await patient.send({"type": "answer", "to": HOST, "sdp": "v=0 answer-sdp"})
            answer = await host.expect("answer")
            self.assertEqual((answer["from"], answer["sdp"]), (PATIENT, "v=0 answer-sdp"))
            cand = {"candidate": "candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host", "sdpMid": "0",
                    "sdpMLineIndex": 0}
            await host.send({"type": "ice-candidate", "to": PATIENT, "candidate": cand})
            await patient.send({"type": "ice-candidate", "to": HOST, "candidate": cand})
            self.assertEqual((await patient.expect("ice-candidate"))["candidate"], cand)
            self.assertEqual((await host.expect("ice-candidate"))["from"], PATIENT)

            await patient.send({"type": "media-state", "audio": True, "video": False, "screen": False})
            ms = await host.expect("media-state")
            self.assertEqual((ms["from"], ms["audio"], ms["video"], ms["screen"]), (PATIENT, True, False, False))
            await host.send({"type": "chat", "text": "Hello, how are you feeling?"})
            for peer in (host, patient):
                c = await peer.expect("chat")
                self.assertEqual((c["from"], c["text"]), (HOST, "Hello, how are you feeling?"))

            await patient.send({"type": "leave"})
            self.assertEqual(await patient.closed(), 1000)
            left = await host.expect("participant-left")
            self.assertEqual((left["participant_id"], left["reason"]), (PATIENT, "left"))

            # The patient comes back (fresh join), then the host ends the call.
            patient = await Peer.connect(self.daemon, "patient-again")
            await patient.join(patient_token)
            await host.expect("participant-joined")
            await patient.send({"type": "end"})
            self.assertEqual((await patient.expect("error"))["code"], "FORBIDDEN")
            await host.send({"type": "end"})
            for peer in (host, patient):
                self.assertEqual((await peer.expect("ended"))["status"], "ended")
                self.assertEqual(await peer.closed(), 1000)

        run(scenario())
        r = self.assertStatus(self.daemon.request("GET", f"/api/v1/sessions/{s['id']}", key=self.key), 200)
        self.assertEqual(r.json()["status"], "ended")
        # The room's last events are stored right after `ended` went out: wait for them.
        harness.wait_until(lambda: sum(e["type"] == "participant_left" for e in self.events(s["id"])) >= 3, 10,
                           "the participant_left events of the session end")
        events = self.events(s["id"])
        types = [(e["type"], e.get("participant_id")) for e in events]
        self.assertEqual(types.count(("participant_joined", HOST)), 1, types)
        self.assertEqual(types.count(("participant_joined", PATIENT)), 2, types)
        self.assertIn(("media_state", PATIENT), types)
        chats = [e for e in events if e["type"] == "chat"]
        self.assertEqual(len(chats), 1, types)
        self.assertEqual(chats[0]["data"]["text"], "Hello, how are you feeling?")
        self.assertEqual(types.count(("participant_left", PATIENT)), 2, types)  # leave + session end
        self.assertEqual(types.count(("participant_left", HOST)), 1, types)
        an = self.assertStatus(self.daemon.request("GET", f"/api/v1/sessions/{s['id']}/analytics", key=self.key), 200).json()
        people = {p["id"]: p for p in an["participants"]}
        self.assertTrue(people[HOST]["joined_at"] and people[HOST]["left_at"], people)
        self.assertTrue(people[PATIENT]["joined_at"] and people[PATIENT]["left_at"], people)
        self.assertIsNone(people[GUEST]["joined_at"], people)
        # A new join into the ended session is refused.
        async def late():
            p = await Peer.connect(self.daemon, "late")
            await p.send({"type": "join", "token": patient_token})
            self.assertEqual((await p.expect("error"))["code"], "SESSION_CLOSED")
            self.assertEqual(await p.closed(), 1008)
        run(late())

    def test_end_via_rest_closes_the_room(self):
        s = create_session(self.daemon, self.key)
        tokens = {p: grant(self.daemon, self.key, s["id"], p)["token"] for p in (HOST, PATIENT)}
        other = create_session(self.daemon, self.key)
        other_token = grant(self.daemon, self.key, other["id"], HOST)["token"]

        async def scenario():
            peers = {}
            for p in (HOST, PATIENT):
                peers[p] = await Peer.connect(self.daemon, p)
                await peers[p].join(tokens[p])
            bystander = await Peer.connect(self.daemon, "other-room")
            await bystander.join(other_token)
            r = await asyncio.to_thread(self.daemon.request, "POST", f"/api/v1/sessions/{s['id']}/end",
                                        {"reason": "completed"}, key=self.key)
            self.assertStatus(r, 200)
            for p in peers.values():
                self.assertEqual((await p.expect("ended"))["status"], "ended")
                self.assertEqual(await p.closed(), 1000)
            # The other room is untouched.
            await bystander.send({"type": "chat", "text": "still here"})
            self.assertEqual((await bystander.expect("chat"))["text"], "still here")
            self.assertEqual(bystander.seen("ended"), [])
            await bystander.close()

        run(scenario())

    def test_end_by_another_process_closes_the_room(self):
        # `consultd session end` runs in its own process: the daemon's reconciler notices (every 5 s).
        s = create_session(self.daemon, self.key)
        tokens = {p: grant(self.daemon, self.key, s["id"], p)["token"] for p in (HOST, PATIENT)}

        async def scenario():
            peers = []
            for p in (HOST, PATIENT):
                peers.append(await Peer.connect(self.daemon, p))
                await peers[-1].join(tokens[p])
            await asyncio.to_thread(self.daemon.cli, "session", "end", s["id"], "--config",
                                    str(self.daemon.config_path))
            for p in peers:
                self.assertEqual((await p.expect("ended", deadline=20))["status"], "ended")
                self.assertEqual(await p.closed(), 1000)

        run(scenario())

    def test_waiting_room_until_start(self):
        s = create_session(self.daemon, self.key, start=False)
        tokens = {p: grant(self.daemon, self.key, s["id"], p)["token"] for p in (HOST, PATIENT)}

        async def scenario():
            host = await Peer.connect(self.daemon, "host")
            patient = await Peer.connect(self.daemon, "patient")
            self.assertEqual((await patient.join(tokens[PATIENT]))["session"]["status"], "waiting")
            await host.join(tokens[HOST])
            await patient.send({"type": "offer", "to": HOST, "sdp": "too early"})
            self.assertEqual((await patient.expect("error"))["code"], "SESSION_NOT_ACTIVE")
            await patient.send({"type": "chat", "text": "waiting for the doctor"})  # the waiting room chats
            await host.expect("chat")
            r = await asyncio.to_thread(self.daemon.request, "POST", f"/api/v1/sessions/{s['id']}/start", {},
                                        key=self.key)
            self.assertStatus(r, 200)
            for p in (host, patient):
                self.assertEqual((await p.expect("session-state"))["status"], "active")
            await patient.send({"type": "offer", "to": HOST, "sdp": "now"})
            self.assertEqual((await host.expect("offer"))["sdp"], "now")
            self.assertEqual(host.seen("offer")[0]["sdp"], "now")  # the early one never arrived
            await host.close()
            await patient.close()

        run(scenario())

    def test_reconnect_resumes_without_duplicate(self):
        s = create_session(self.daemon, self.key)
        tokens = {p: grant(self.daemon, self.key, s["id"], p)["token"] for p in (HOST, PATIENT)}

        async def scenario():
            host = await Peer.connect(self.daemon, "host")
            await host.join(tokens[HOST])
            first = await Peer.connect(self.daemon, "patient-1")
            await first.join(tokens[PATIENT])
            await host.expect("participant-joined")
            second = await Peer.connect(self.daemon, "patient-2")
            resumed = await second.join(tokens[PATIENT])
            self.assertTrue(resumed["resumed"])
            self.assertEqual([p["id"] for p in resumed["participants"]], [HOST])
            self.assertEqual((await first.expect("error"))["code"], "REPLACED")
            self.assertEqual(await first.closed(), 1000)
            await host.send({"type": "offer", "to": PATIENT, "sdp": "to the new socket"})
            self.assertEqual((await second.expect("offer"))["sdp"], "to the new socket")
            await host.send({"type": "chat", "text": "marker"})
            await host.expect("chat")
            self.assertEqual(host.seen("participant-left"), [])
            self.assertEqual(len(host.seen("participant-joined")), 1)
            await host.close()
            await second.close()

        run(scenario())
        # Events are stored by the signaling's recorder threads: wait for the last ones (the leaves).
        harness.wait_until(lambda: sum(e["type"] == "participant_left" for e in self.events(s["id"])) >= 2, 10,
                           "the participant_left events")
        types = [(e["type"], e.get("participant_id")) for e in self.events(s["id"])]
        self.assertEqual(types.count(("participant_joined", PATIENT)), 1, types)


def harness_epoch(rfc3339: str) -> int:
    import datetime as dt
    return int(dt.datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp())


if __name__ == "__main__":
    harness.main()
