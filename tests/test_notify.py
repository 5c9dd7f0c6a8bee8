"""matcherd speaks systemd's notify protocol (Type=notify): with NOTIFY_SOCKET
set, it sends READY=1 (with a STATUS line) once it serves, and STOPPING=1 when
SIGTERM makes it stop; it then exits 0. The socket here plays systemd's part.

Usage: /usr/bin/python3 test_notify.py MATCHERD MATCHCTL
"""
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time


def main():
    matcherd, matchctl = sys.argv[1], sys.argv[2]
    with tempfile.TemporaryDirectory(prefix="passerelle-notify.") as tmp:
        path = os.path.join(tmp, "notify.sock")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(path)
        sock.settimeout(20)
        env = dict(os.environ, NOTIFY_SOCKET=path)
        query = "ipc://%s/query.sock" % tmp
        log = open(os.path.join(tmp, "matcherd.log"), "w+")
        proc = subprocess.Popen(
            [matcherd, "--data", os.path.join(tmp, "data"),
             "--ingest", "ipc://%s/ingest.sock" % tmp,
             "--feed", "ipc://%s/feed.sock" % tmp, "--query", query],
            env=env, stderr=log)
        try:
            msg = sock.recv(4096).decode()
            fields = dict(line.split("=", 1) for line in msg.splitlines() if "=" in line)
            if fields.get("READY") != "1" or "serving" not in fields.get("STATUS", ""):
                print("FAIL: first notification is %r" % msg)
                return 1
            # READY=1 means it serves: health answers at once
            health = subprocess.run([matchctl, "health", "--query", query, "--timeout", "5000"],
                                    capture_output=True, text=True, check=False)
            if health.returncode != 0 or health.stdout != "live ready\n":
                print("FAIL: health after READY=1: %d %r %r"
                      % (health.returncode, health.stdout, health.stderr))
                return 1
            proc.send_signal(signal.SIGTERM)
            msg = sock.recv(4096).decode()
            if "STOPPING=1" not in msg.splitlines():
                print("FAIL: after SIGTERM the notification is %r" % msg)
                return 1
            code = proc.wait(timeout=20)
            if code != 0:
                print("FAIL: matcherd exited %d" % code)
                return 1
        except (socket.timeout, subprocess.TimeoutExpired) as e:
            log.seek(0)
            print("FAIL: %s\n%s" % (e, log.read()))
            return 1
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    print("ok: READY=1 with a status once serving, STOPPING=1 on SIGTERM, exit 0")
    print("1 passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
