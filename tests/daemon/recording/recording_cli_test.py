"""`consultd recording decrypt|repair|info` against files written by an
independent implementation of the documented CDREC v1 format (Python
`cryptography`'s AESGCM), so the C++ reader is checked against the spec in
docs/webrtc.md rather than only against its own writer.

Usage: recording_cli_test.py TOOL   (TOOL runs RecordingCli's runRecordingCommand)
"""
import os
import struct
import subprocess
import sys
import tempfile

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

TOOL = sys.argv[1]
MAGIC = b"CDREC\x00\r\n"
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def key_id(key):
    import hashlib
    return hashlib.sha256(b"consultd-recording-key-id" + key).digest()[:8]


def encrypt(key, plain, chunk=1000, final=True, nonce_prefix=None):
    """Writes a CDREC v1 file the way docs/webrtc.md specifies it."""
    nonce_prefix = nonce_prefix or os.urandom(8)
    header = MAGIC + struct.pack(">HHI", 1, 48, chunk) + key_id(key) + nonce_prefix + bytes(16)
    assert len(header) == 48
    aead = AESGCM(key)
    out = bytearray(header)
    pieces = [plain[i:i + chunk] for i in range(0, len(plain), chunk)]
    if not pieces or len(pieces[-1]) == chunk:
        pieces.append(b"")  # the final chunk may be empty
    for index, piece in enumerate(pieces):
        is_final = final and index == len(pieces) - 1
        if not final and index == len(pieces) - 1 and not piece:
            break
        word = len(piece) | (0x80000000 if is_final else 0)
        seq = 1000 + index
        aad = header + struct.pack(">QI", index, word)
        sealed = aead.encrypt(nonce_prefix + struct.pack(">I", seq), piece, aad)
        out += struct.pack(">II", word, seq) + sealed  # sealed = ciphertext || tag
    return bytes(out)


def run(*args):
    p = subprocess.run([TOOL, *args], capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout + p.stderr


def main():
    with tempfile.TemporaryDirectory() as d:
        key = os.urandom(32)
        kf = os.path.join(d, "rec.key")
        with open(kf, "wb") as f:
            f.write(key)
        os.chmod(kf, 0o600)
        plain = os.urandom(12345)
        enc = os.path.join(d, "a.cdrec")
        with open(enc, "wb") as f:
            f.write(encrypt(key, plain))
        out = os.path.join(d, "a.webm")
        rc, text = run("recording", "decrypt", enc, out, "--key-file", kf)
        check(rc == 0, "decrypt of a spec-conformant file: %s" % text.strip())
        check(open(out, "rb").read() == plain if rc == 0 else False, "plaintext identical")
        check(rc != 0 or (os.stat(out).st_mode & 0o777) == 0o600, "export is mode 0600")

        rc, text = run("recording", "info", enc, "--key-file", kf)
        check(rc == 0 and "plaintext_bytes: 12345" in text and key_id(key).hex() in text, "info: " + text.strip().replace("\n", "; "))

        # Exact chunk multiple: an empty final chunk.
        exact = os.path.join(d, "exact.cdrec")
        with open(exact, "wb") as f:
            f.write(encrypt(key, plain[:3000]))
        rc, _ = run("recording", "decrypt", exact, out + "2", "--key-file", kf)
        check(rc == 0 and open(out + "2", "rb").read() == plain[:3000], "exact multiple of the chunk size")

        # Wrong key: named as such, no output file.
        other = os.path.join(d, "other.key")
        with open(other, "w") as f:
            f.write(os.urandom(32).hex() + "\n")
        os.chmod(other, 0o600)
        bad_out = os.path.join(d, "wrong.webm")
        rc, text = run("recording", "decrypt", enc, bad_out, "--key-file", other)
        check(rc == 1 and "wrong_key" in text and not os.path.exists(bad_out), "wrong key refused: " + text.strip())

        # One flipped bit in the middle chunk: refused before any plaintext is written.
        raw = bytearray(open(enc, "rb").read())
        raw[48 + 1024 + 100] ^= 0x04
        tam = os.path.join(d, "tampered.cdrec")
        open(tam, "wb").write(raw)
        rc, text = run("recording", "decrypt", tam, bad_out, "--key-file", kf)
        check(rc == 1 and "tampered" in text and not os.path.exists(bad_out), "tampered chunk refused: " + text.strip())

        # Cut at a chunk boundary: truncated.
        cut = os.path.join(d, "cut.cdrec")
        open(cut, "wb").write(open(enc, "rb").read()[:48 + 2 * 1024])
        rc, text = run("recording", "decrypt", cut, bad_out, "--key-file", kf)
        check(rc == 1 and "truncated" in text, "cut file refused as truncated: " + text.strip())

        # A crashed writer's .partial (no final chunk): repair keeps it all and renames.
        partial = os.path.join(d, "crashed.webm.partial")
        open(partial, "wb").write(encrypt(key, plain[:4500], final=False))
        rc, text = run("recording", "repair", partial, "--key-file", kf)
        repaired = os.path.join(d, "crashed.webm")
        check(rc == 0 and "repaired" in text and os.path.exists(repaired) and not os.path.exists(partial),
              "repair of a .partial: " + text.strip())
        rc, text = run("recording", "decrypt", repaired, out + "3", "--key-file", kf)
        check(rc == 0 and open(out + "3", "rb").read() == plain[:4500], "repaired file decrypts to the written prefix")

        # Nothing recoverable: marked .failed, not silently dropped.
        hopeless = os.path.join(d, "hopeless.webm.partial")
        open(hopeless, "wb").write(encrypt(key, b"", final=False)[:48])
        rc, text = run("recording", "repair", hopeless, "--key-file", kf)
        check(rc == 1 and os.path.exists(os.path.join(d, "hopeless.webm.failed")), "unrecoverable marked failed: " + text.strip())

        # Usage errors.
        rc, _ = run("recording", "decrypt", enc)
        check(rc == 2, "missing arguments is a usage error")
        rc, _ = run("recording", "frobnicate")
        check(rc == 2, "unknown subcommand is a usage error")

    if failures:
        print("%d failure(s)" % len(failures))
        sys.exit(1)


main()
