#!/usr/bin/env python3
"""Type=notify and WatchdogSec= as the units use them: each daemon, started
with a fake $NOTIFY_SOCKET and $WATCHDOG_USEC, says READY=1 with a STATUS
line, keeps sending WATCHDOG=1 while it runs, and says STOPPING=1 on
SIGTERM. Skips while the daemon is not built.
    notify_live.py DAEMON"""
import os
import select
import socket
import subprocess
import sys
import tempfile
import time

import kdunits

BUILD = os.environ["KD_BUILD_DIR"]
WAIT = 10.0  # bound for a broken daemon
SKIP = 77


def main():
    name = sys.argv[1]
    exe = os.path.join(BUILD, name, name)
    if not os.access(exe, os.X_OK):
        print(f"SKIP: {name} not built yet ({exe})")
        return SKIP
    with tempfile.TemporaryDirectory() as tmp:
        conf = os.path.join(tmp, "kvmdesk.conf")
        os.makedirs(os.path.join(tmp, "run"))
        os.makedirs(os.path.join(tmp, "hid"))
        port = kdunits.free_port()
        with open(conf, "w") as f:
            f.write(f"[general]\nstate_dir = {tmp}/state\n"
                    f"runtime_dir = {tmp}/run\n"
                    f"[session]\nlisten = 127.0.0.1:{port}\n"
                    "[video]\nsource = testpattern\nwidth = 320\n"
                    "height = 240\nfps = 10\n[audio]\nsource = none\n"
                    f"[hid]\nbackend = file\nfile_dir = {tmp}/hid\n")
        subprocess.run([os.path.join(BUILD, "kvmdeskctl", "kvmdeskctl"),
                        "-c", conf, "init"], check=True, capture_output=True)
        notify_path = os.path.join(tmp, "notify")
        ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        ns.bind(notify_path)
        env = dict(os.environ, NOTIFY_SOCKET=notify_path,
                   WATCHDOG_USEC="200000")
        env.pop("WATCHDOG_PID", None)
        log = open(os.path.join(tmp, "log"), "w+b")
        proc = subprocess.Popen([exe, "-c", conf], env=env, stdout=log,
                                stderr=log)
        seen = []

        def next_message(what):
            deadline = time.monotonic() + WAIT
            while True:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([ns], [], [], left)[0]:
                    log.seek(0)
                    print(log.read().decode(errors="replace")[-3000:])
                    raise SystemExit(f"FAIL: {name}: no {what}; got {seen}")
                msg = ns.recv(4096).decode(errors="replace")
                seen.append(msg)
                return msg

        try:
            while True:
                msg = next_message("READY=1")
                if "READY=1" in msg.split("\n"):
                    break
            status = [l for l in msg.split("\n") if l.startswith("STATUS=")]
            print(f"{name}: READY=1 {status}")
            pings = 0
            while pings < 3:
                if "WATCHDOG=1" in next_message("WATCHDOG=1").split("\n"):
                    pings += 1
            print(f"{name}: WATCHDOG=1 x{pings} while running")
            proc.terminate()
            while "STOPPING=1" not in next_message("STOPPING=1").split("\n"):
                pass
            print(f"{name}: STOPPING=1 on SIGTERM")
            code = proc.wait(timeout=WAIT)
            if code != 0:
                raise SystemExit(f"FAIL: {name} exited {code} on SIGTERM")
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
