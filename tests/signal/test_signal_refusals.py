#!/usr/bin/python3
"""it_signal_refusals: what the signaling refuses, against the built daemon,
and that the room keeps working for the legitimate peers after each refusal:
a token for another session, an expired token, a forged token, a
non-participant, a forged `from`, a message `to` a participant in another
room, a message before join, a 1 MB message (close 1009), a flood (error, then
close 1008), a cross-site Origin (handshake refused with 403); with a second
daemon with tight limits: a consumer that stops reading is closed (its send
queue is bounded) and a socket that never joins is closed with 1008."""

import asyncio
import time

import jwt  # Debian: python3-jwt
import websockets

from sigclient import Peer, create_session, grant, harness, run, webrtc_daemon

HOST, PATIENT, GUEST = "dr-house", "pat-1", "guest-1"


class SignalRefusalsTest(harness.ApiTestCase):
    @classmethod
    def setUpClass(cls):
        cls.daemon = webrtc_daemon(None, "sigrefuse")
        cls.key = cls.daemon.create_api_key("admin")
        cls.daemon.start()
        cls.signing_key = (cls.daemon.tmp / "state" / "signaling.key").read_text().strip()

    @classmethod
    def tearDownClass(cls):
        cls.daemon.stop()
        cls.daemon.cleanup()

    def mint(self, session_id, participant, role, exp_delta, key=None):
        now = int(time.time())
        return jwt.encode({"aud": "consultd-signal", "sid": session_id, "sub": participant, "role": role,
                           "iat": now - 60, "exp": now + exp_delta, "jti": "test"},
                          key or self.signing_key, algorithm="HS256")

    def setUp(self):
        self.s = create_session(self.daemon, self.key)
        self.t = create_session(self.daemon, self.key)
        self.tokens = {p: grant(self.daemon, self.key, self.s["id"], p)["token"] for p in (HOST, PATIENT, GUEST)}
        self.other_host = grant(self.daemon, self.key, self.t["id"], HOST)["token"]

    async def room(self):
        host = await Peer.connect(self.daemon, "host")
        await host.join(self.tokens[HOST])
        patient = await Peer.connect(self.daemon, "patient")
        await patient.join(self.tokens[PATIENT])
        await host.expect("participant-joined")
        return host, patient

    async def still_works(self, host, patient, tag):
        await host.send({"type": "offer", "to": PATIENT, "sdp": f"offer after {tag}"})
        got = await patient.expect("offer", sdp=f"offer after {tag}")
        self.assertEqual(got["from"], HOST)
        await patient.send({"type": "answer", "to": HOST, "sdp": f"answer after {tag}"})
        self.assertEqual((await host.expect("answer", sdp=f"answer after {tag}"))["from"], PATIENT)

    async def refused_join(self, token, code, **extra):
        p = await Peer.connect(self.daemon, f"refused-{code}")
        await p.send({"type": "join", "token": token, **extra})
        err = await p.expect("error")
        self.assertEqual(err["code"], code, err)
        self.assertEqual(await p.closed(), 1008)
        self.assertEqual(p.seen("joined"), [])

    def test_join_refusals(self):
        async def scenario():
            host, patient = await self.room()
            # another session's token, presented for this session
            await self.refused_join(self.other_host, "WRONG_SESSION", session_id=self.s["id"])
            await self.still_works(host, patient, "wrong session")
            # expired token (signed with the right key)
            await self.refused_join(self.mint(self.s["id"], GUEST, "guest", -5), "TOKEN_EXPIRED")
            await self.still_works(host, patient, "expired")
            # forged token (another key) and no token
            await self.refused_join(self.mint(self.s["id"], GUEST, "guest", 300, key="x" * 64), "INVALID_TOKEN")
            await self.refused_join("", "INVALID_TOKEN")
            # a validly signed token for someone who is not a participant
            await self.refused_join(self.mint(self.s["id"], "mallory", "host", 300), "NOT_A_PARTICIPANT")
            await self.still_works(host, patient, "non-participant")
            # anything before join
            p = await Peer.connect(self.daemon, "early")
            await p.send({"type": "offer", "to": HOST, "sdp": "x"})
            self.assertEqual((await p.expect("error"))["code"], "NOT_JOINED")
            self.assertEqual(await p.closed(), 1008)
            await self.still_works(host, patient, "not joined")
            self.assertEqual(host.seen("participant-joined"), [host.seen("participant-joined")[0]])
            await host.close()
            await patient.close()

        run(scenario())

    def test_forged_from_and_other_room(self):
        async def scenario():
            host, patient = await self.room()
            guest = await Peer.connect(self.daemon, "guest")
            await guest.join(self.tokens[GUEST])
            # forged from: the patient sees who really sent it
            await guest.send({"type": "offer", "to": PATIENT, "from": HOST, "sdp": "spoof"})
            spoof = await patient.expect("offer", sdp="spoof")
            self.assertEqual(spoof["from"], GUEST)
            # a member of another room addresses the host of this one
            intruder = await Peer.connect(self.daemon, "intruder")
            await intruder.join(self.other_host)
            await intruder.send({"type": "offer", "to": PATIENT, "sdp": "cross-room"})
            self.assertEqual((await intruder.expect("error"))["code"], "UNKNOWN_PARTICIPANT")
            # The marker proves the patient's inbox is live and nothing crossed before it.
            await host.send({"type": "chat", "text": "marker"})
            await patient.expect("chat", text="marker")
            self.assertEqual([o["sdp"] for o in patient.seen("offer")], ["spoof"])
            await self.still_works(host, patient, "cross-room")
            for p in (host, patient, guest, intruder):
                await p.close()

        run(scenario())

    def test_oversized_message_and_flood(self):
        async def scenario():
            host, patient = await self.room()
            big = await Peer.connect(self.daemon, "big")
            await big.join(self.tokens[GUEST])
            await host.expect("participant-joined")
            try:
                await big.ws.send("x" * (1024 * 1024))
            except websockets.ConnectionClosed:
                pass  # the server may have closed while we were still sending
            self.assertEqual(await big.closed(), 1009)
            self.assertEqual([e["code"] for e in big.seen("error")], ["MESSAGE_TOO_LARGE"])
            left = await host.expect("participant-left", participant_id=GUEST)
            self.assertEqual(left["reason"], "disconnected")
            await self.still_works(host, patient, "1 MB")

            flood = await Peer.connect(self.daemon, "flood")
            await flood.join(self.tokens[GUEST])
            try:
                for i in range(300):
                    await flood.send({"type": "chat", "text": f"flood {i}"})
            except websockets.ConnectionClosed:
                pass
            self.assertEqual(await flood.closed(), 1008)
            codes = [e["code"] for e in flood.seen("error")]
            self.assertTrue(codes and set(codes) == {"RATE_LIMITED"}, codes)
            self.assertLessEqual(len(codes), 3, codes)
            await self.still_works(host, patient, "flood")
            # The flood reached the room only up to the rate limit (50 per second, default).
            flooded = [c for c in patient.seen("chat") if c["text"].startswith("flood")]
            self.assertLess(len(flooded), 300, len(flooded))
            await host.close()
            await patient.close()

        run(scenario())

    def test_cross_site_origin_is_refused(self):
        async def scenario():
            host, patient = await self.room()
            for bad in ("http://evil.example", f"http://127.0.0.1:{self.daemon.port + 1}", "null"):
                with self.assertRaises(websockets.InvalidStatusCode) as ctx:
                    await Peer.connect(self.daemon, "evil", origin=bad)
                self.assertEqual(ctx.exception.status_code, 403, bad)
            ok = await Peer.connect(self.daemon, "same-origin", origin=f"http://127.0.0.1:{self.daemon.port}")
            await ok.join(self.tokens[GUEST])
            await self.still_works(host, patient, "origin")
            for p in (host, patient, ok):
                await p.close()

        run(scenario())
        # The REST side answers a plain GET with the error envelope, not a hang.
        r = self.daemon.request("GET", "/api/v1/signal")
        self.assertStatus(r, 400, "WEBSOCKET_HANDSHAKE_FAILED")


class SignalQueueLimitsTest(harness.ApiTestCase):
    @classmethod
    def setUpClass(cls):
        cls.daemon = webrtc_daemon(None, "siglimits", {
            "signaling": {"send_queue_messages": 8, "messages_per_second": 10000, "join_timeout_seconds": 2}})
        cls.key = cls.daemon.create_api_key("admin")
        cls.daemon.start()

    @classmethod
    def tearDownClass(cls):
        cls.daemon.stop()
        cls.daemon.cleanup()

    def test_slow_consumer_is_closed_and_the_room_goes_on(self):
        s = create_session(self.daemon, self.key)
        tokens = {p: grant(self.daemon, self.key, s["id"], p)["token"] for p in (HOST, PATIENT)}

        async def scenario():
            host = await Peer.connect(self.daemon, "host")
            await host.join(tokens[HOST])
            # The patient stops reading: the client library buffers one message, then TCP fills.
            slow = await Peer.connect(self.daemon, "slow", max_queue=1, read_limit=2 ** 12)
            await slow.join(tokens[PATIENT])
            await host.expect("participant-joined")
            big = "o" * 60000
            sent = 0
            for i in range(600):  # 36 MB: more than the kernel's socket buffers can hold
                await host.send({"type": "offer", "to": PATIENT, "sdp": f"{i} {big}"})
                sent += 1
                # The host keeps reading (the errors for offers to a departed
                # patient included), and stops as soon as the daemon has given
                # up on the patient.
                await host.drain()
                if host.seen("participant-left"):
                    break
            if not host.seen("participant-left"):
                await host.expect("participant-left", deadline=20)
            code = await slow.closed(deadline=30)
            self.assertIn(code, (1006, 1008), code)  # 1006: the close frame could not be sent either
            got = len(slow.seen("offer"))
            self.assertLess(got, sent, (got, sent))
            # The host is fine, and the patient can come back.
            patient = await Peer.connect(self.daemon, "patient-again")
            await patient.join(tokens[PATIENT])
            await host.send({"type": "offer", "to": PATIENT, "sdp": "after the slow consumer"})
            self.assertEqual((await patient.expect("offer", sdp="after the slow consumer"))["from"], HOST)
            await host.close()
            await patient.close()

        run(scenario())

    def test_socket_that_never_joins_is_closed(self):
        async def scenario():
            idle = await Peer.connect(self.daemon, "idle")
            self.assertEqual(await idle.closed(deadline=15), 1008)

        run(scenario())


class SignalAddressLimitTest(harness.ApiTestCase):
    """Unauthenticated sockets are a quota per client address, not only in all."""

    def test_per_address_limit(self):
        d = webrtc_daemon(self, "sigaddr", {"signaling": {"max_connections_per_address": 2}})
        key = d.create_api_key("admin")
        d.start()
        s = create_session(d, key)
        token = grant(d, key, s["id"], HOST)["token"]

        async def scenario():
            first = await Peer.connect(d, "first")
            second = await Peer.connect(d, "second")
            with self.assertRaises(websockets.InvalidStatusCode) as ctx:
                await Peer.connect(d, "third")
            self.assertEqual(ctx.exception.status_code, 429)
            await first.close()
            await second.close()

            async def admitted():
                try:
                    return await Peer.connect(d, "after")
                except websockets.InvalidStatusCode:
                    return None

            loop = asyncio.get_running_loop()
            end = loop.time() + 15
            peer = None
            while peer is None and loop.time() < end:
                peer = await admitted()
                if peer is None:
                    await asyncio.sleep(0.1)  # the closed sockets are released within the close handshake
            self.assertIsNotNone(peer, "the address's slots were not released")
            self.assertEqual((await peer.join(token))["self"]["id"], HOST)
            await peer.close()

        run(scenario())
        r = d.request("GET", "/api/v1/signal")  # the REST side is not limited by it
        self.assertStatus(r, 400, "WEBSOCKET_HANDSHAKE_FAILED")


if __name__ == "__main__":
    harness.main()
