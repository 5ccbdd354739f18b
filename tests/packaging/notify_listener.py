"""notify_listener.py SOCKET OUT TIMEOUT: the systemd side of sd_notify for a test.

Binds a datagram socket at SOCKET (mode 0666, so a daemon running as another
user can send), appends every message to OUT, exits 0 once READY=1 arrives
and 1 after TIMEOUT seconds without it."""

import os
import socket
import sys
import time


def main() -> int:
    path, out, timeout = sys.argv[1], sys.argv[2], float(sys.argv[3])
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path + ".tmp")
    os.chmod(path + ".tmp", 0o666)
    os.rename(path + ".tmp", path)  # appears only once it can receive
    deadline = time.monotonic() + timeout
    with open(out, "a") as log:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                print(f"no READY=1 within {timeout:.0f} s", file=sys.stderr)
                return 1
            sock.settimeout(left)
            try:
                data = sock.recv(4096).decode(errors="replace")
            except socket.timeout:
                continue
            log.write(data.replace("\n", " ") + "\n")
            log.flush()
            if "READY=1" in data.split("\n"):
                return 0


if __name__ == "__main__":
    sys.exit(main())
