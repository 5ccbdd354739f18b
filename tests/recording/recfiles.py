"""CDREC v1 files written independently of the daemon (docs/webrtc.md,
"Container: CDREC v1"), with Python's `cryptography` AES-GCM: lets the
recording tests put known plaintext on disk and check what the daemon serves."""
import hashlib
import os
import struct

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC = b"CDREC\x00\r\n"
CHUNK = 65536


def make_key(path):
    """32 random bytes as hex, mode 0600; returns the raw key."""
    key = os.urandom(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key.hex() + "\n")
    return key


def write_cdrec(path, key, plain, final=True, chunk=CHUNK):
    """Encrypts `plain` into `path`. final=False leaves out the final chunk, as a
    crashed writer does (the last full chunk is written, not flagged final)."""
    key_id = hashlib.sha256(b"consultd-recording-key-id" + key).digest()[:8]
    prefix = os.urandom(8)
    header = MAGIC + struct.pack(">HHI", 1, 48, chunk) + key_id + prefix + b"\x00" * 16
    aead = AESGCM(key)
    out = [header]
    pieces = [plain[i:i + chunk] for i in range(0, len(plain), chunk)]
    if final and (not pieces or len(pieces[-1]) == chunk):
        pieces.append(b"")
    if not final:
        pieces = [p for p in pieces if len(p) == chunk]
    for index, piece in enumerate(pieces):
        last = final and index == len(pieces) - 1
        word = (0x80000000 if last else 0) | len(piece)
        seq = index
        nonce = prefix + struct.pack(">I", seq)
        aad = header + struct.pack(">QI", index, word)
        sealed = aead.encrypt(nonce, piece, aad)
        out.append(struct.pack(">II", word, seq) + sealed)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(b"".join(out))
