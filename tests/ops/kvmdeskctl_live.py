#!/usr/bin/env python3
"""kvmdeskctl against the real daemons (each case skips while a daemon it
needs is not built):

  status    all four daemons started by hand: status says each is up and
            exits 0; stopping one makes it "down" and the exit status 1
  sessions  a direct-IP client shows up in "sessions" with its address and
            kind; "sessions close ID" ends it (the client sees the close)
    kvmdeskctl_live.py CASE"""
import json
import os
import select
import socket
import subprocess
import sys
import tempfile
import time

BUILD = os.environ["KD_BUILD_DIR"]
CTL = os.path.join(BUILD, "kvmdeskctl", "kvmdeskctl")
DAEMONS = ["rendezvousd", "sessiond", "mediad", "hidd"]
WAIT = 10.0  # bound for a broken daemon; nothing depends on timing
SKIP = 77


def program(name):
    path = os.path.join(BUILD, name, name)
    if not os.access(path, os.X_OK):
        print(f"SKIP: {name} not built yet ({path})")
        sys.exit(SKIP)
    return path


from kdunits import free_port  # noqa: E402  (one port policy for every test)


def setup(tmp):
    port = free_port()
    conf = os.path.join(tmp, "kvmdesk.conf")
    os.makedirs(os.path.join(tmp, "run"))
    os.makedirs(os.path.join(tmp, "hid"))
    with open(conf, "w") as f:
        f.write(f"[general]\nstate_dir = {tmp}/state\n"
                f"runtime_dir = {tmp}/run\n"
                f"[session]\nlisten = 127.0.0.1:{port}\ndirect_ip = on\n"
                "[video]\nsource = testpattern\nwidth = 320\nheight = 240\n"
                "fps = 10\n[audio]\nsource = none\n"
                f"[hid]\nbackend = file\nfile_dir = {tmp}/hid\n")
    subprocess.run([CTL, "-c", conf, "init"], check=True,
                   capture_output=True)
    return conf, port


def ctl_json(conf, *args):
    p = subprocess.run([CTL, "-c", conf, "--json", *args],
                       capture_output=True, text=True, timeout=30)
    return p.returncode, json.loads(p.stdout)


def wait_until(what, cond):
    deadline = time.monotonic() + WAIT
    while not cond():
        if time.monotonic() > deadline:
            raise SystemExit(f"FAIL: {what}")
        time.sleep(0.05)


class Daemons:
    def __init__(self, conf, names, logdir):
        self.procs = {}
        for n in names:
            log = open(os.path.join(logdir, n + ".log"), "wb")
            self.procs[n] = subprocess.Popen([program(n), "-c", conf],
                                             stdout=log, stderr=log)

    def stop(self, name):
        p = self.procs.pop(name)
        p.terminate()
        p.wait(timeout=WAIT)

    def stop_all(self):
        for n in list(self.procs):
            self.stop(n)


def case_status(tmp):
    for d in DAEMONS:
        program(d)
    conf, _ = setup(tmp)
    ds = Daemons(conf, DAEMONS, tmp)
    try:
        def all_up():
            code, doc = ctl_json(conf, "status")
            return code == 0 and all(d["up"] for d in doc["daemons"])
        wait_until("every daemon answers kvmdeskctl status", all_up)
        code, doc = ctl_json(conf, "status")
        for d in doc["daemons"]:
            print(f"{d['name']}: up, pid {d['pid']}, {d['state']}")
            assert d["pid"] == ds.procs[d["name"]].pid, d
        ds.stop("mediad")
        code, doc = ctl_json(conf, "status")
        up = {d["name"]: d["up"] for d in doc["daemons"]}
        if code != 1 or up["mediad"] or not up["sessiond"]:
            raise SystemExit(f"FAIL: after stopping mediad: {code} {up}")
        print("mediad stopped: reported down, exit status 1")
    finally:
        ds.stop_all()


def case_sessions(tmp):
    program("sessiond")
    conf, port = setup(tmp)
    ds = Daemons(conf, ["sessiond"], tmp)
    try:
        def connect():
            try:
                return socket.create_connection(("127.0.0.1", port),
                                                timeout=WAIT)
            except ConnectionRefusedError:
                return None
        client = None

        def connected():
            nonlocal client
            client = connect()
            return client is not None
        wait_until("sessiond listens", connected)
        ours = "%s:%d" % client.getsockname()

        def listed():
            code, doc = ctl_json(conf, "sessions")
            return code == 0 and any(s["peer_addr"] == ours
                                     for s in doc["sessions"])
        wait_until(f"sessions lists {ours}", listed)
        _, doc = ctl_json(conf, "sessions")
        s = next(s for s in doc["sessions"] if s["peer_addr"] == ours)
        print(f"listed: {s}")
        if s["how"] != "direct" or s["authorized"]:
            raise SystemExit(f"FAIL: session kind/login wrong: {s}")
        code, res = ctl_json(conf, "sessions", "close", str(s["conn_id"]))
        if code != 0 or not res["closed"]:
            raise SystemExit(f"FAIL: close: {code} {res}")
        # The client's connection ends (after whatever sessiond says).
        deadline = time.monotonic() + WAIT
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([client], [], [], left)[0]:
                raise SystemExit("FAIL: the client was not disconnected")
            try:
                if not client.recv(65536):
                    break
            except ConnectionResetError:
                break
        wait_until("the session leaves the list", lambda: not any(
            x["peer_addr"] == ours for x in ctl_json(conf, "sessions")[1]
            ["sessions"]))
        code, res = ctl_json(conf, "sessions", "close", str(s["conn_id"]))
        if code != 1 or res["closed"]:
            raise SystemExit(f"FAIL: closing it again: {code} {res}")
        print("closed by kvmdeskctl; closing again fails")
    finally:
        ds.stop_all()


def main():
    case = {"status": case_status, "sessions": case_sessions}[sys.argv[1]]
    with tempfile.TemporaryDirectory() as tmp:
        try:
            case(tmp)
        except SystemExit:
            for f in sorted(os.listdir(tmp)):
                if f.endswith(".log"):
                    print(f"--- {f}")
                    print(open(os.path.join(tmp, f)).read()[-3000:])
            raise
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
