#!/usr/bin/python3
"""it_signal_tls: the signaling over TLS (wss://), as patients and kiosks use
it: the TLS socket is detached from the HTTPS connection into the hub like a
plain one. Grant URL is wss://, two participants negotiate and chat, a 1 MB
message closes 1009, a cross-site Origin is refused, leave closes 1000."""

import shutil
import ssl
import unittest

import websockets

from sigclient import Peer, create_session, grant, harness, run, webrtc_daemon
from test_tls import Pki  # tests/integration: a throwaway CA made with the openssl CLI

HOST, PATIENT = "dr-house", "pat-1"


class SignalTlsTest(harness.ApiTestCase):
    @classmethod
    def setUpClass(cls):
        if not shutil.which("openssl"):
            raise unittest.SkipTest("openssl is needed (scripts/packages.txt)")
        cls.daemon = webrtc_daemon(None, "sigtls", {"server": {"tls": True, "tls_cert_file": "tls/server.crt",
                                                              "tls_key_file": "secrets/server.key"}})
        pki = Pki(cls.daemon.tmp / "pki")
        crt, key = pki.issue("server", 0x2001)
        (cls.daemon.tmp / "tls").mkdir()
        (cls.daemon.tmp / "tls" / "server.crt").write_bytes(crt.read_bytes())
        harness.write_secret(cls.daemon.secrets_dir / "server.key", key.read_bytes())
        cls.key = cls.daemon.create_api_key("admin")
        cls.daemon.start(tls_context=ssl.create_default_context(cafile=str(pki.ca_crt)))

    @classmethod
    def tearDownClass(cls):
        cls.daemon.stop()
        cls.daemon.cleanup()

    def test_wss_room(self):
        s = create_session(self.daemon, self.key)
        grants = {p: grant(self.daemon, self.key, s["id"], p) for p in (HOST, PATIENT)}
        self.assertEqual(grants[HOST]["join_url"], f"wss://127.0.0.1:{self.daemon.port}/api/v1/signal")

        async def scenario():
            with self.assertRaises(websockets.InvalidStatusCode) as ctx:
                await Peer.connect(self.daemon, "evil", origin="https://evil.example")
            self.assertEqual(ctx.exception.status_code, 403)
            host = await Peer.connect(self.daemon, "host", origin=f"https://127.0.0.1:{self.daemon.port}")
            await host.join(grants[HOST]["token"])
            patient = await Peer.connect(self.daemon, "patient")
            await patient.join(grants[PATIENT]["token"])
            await host.expect("participant-joined")
            sdp = "v=0 " + "s" * 20000  # several TLS records per message
            await host.send({"type": "offer", "to": PATIENT, "from": "forged", "sdp": sdp})
            offer = await patient.expect("offer")
            self.assertEqual((offer["from"], offer["sdp"]), (HOST, sdp))
            for i in range(40):  # many small messages in a row: data buffered inside TLS must not stall
                await patient.send({"type": "ice-candidate", "to": HOST, "candidate": {"candidate": f"c{i}"}})
            for i in range(40):
                self.assertEqual((await host.expect("ice-candidate"))["candidate"]["candidate"], f"c{i}")
            await host.send({"type": "chat", "text": "over TLS"})
            self.assertEqual((await patient.expect("chat"))["text"], "over TLS")

            big = await Peer.connect(self.daemon, "big")
            await big.join(grants[PATIENT]["token"])  # resumes the patient
            self.assertEqual(await patient.closed(), 1000)
            try:
                await big.ws.send("x" * (1024 * 1024))
            except websockets.ConnectionClosed:
                pass
            self.assertEqual(await big.closed(), 1009)
            await host.expect("participant-left", participant_id=PATIENT)
            await host.send({"type": "leave"})
            self.assertEqual(await host.closed(), 1000)

        run(scenario())


if __name__ == "__main__":
    harness.main()
