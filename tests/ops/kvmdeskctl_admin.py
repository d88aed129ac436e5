#!/usr/bin/env python3
"""kvmdeskctl status / sessions / config check, as an administrator and a
script would use them: exit codes, text, and --json that parses."""
import json
import os
import subprocess
import sys
import tempfile

BUILD = os.environ["KD_BUILD_DIR"]
SOURCE = os.environ["KD_SOURCE_DIR"]
CTL = os.path.join(BUILD, "kvmdeskctl", "kvmdeskctl")
FAKE = os.path.join(BUILD, "tests", "ops", "fake_ctl_daemon")

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def run(conf, *args):
    p = subprocess.run([CTL, "-c", conf, *args], capture_output=True,
                       text=True, timeout=30)
    return p.returncode, p.stdout, p.stderr


def run_json(conf, *args):
    code, out, err = run(conf, "--json", *args)
    try:
        return code, json.loads(out)
    except ValueError as e:
        check(False, f"{args}: --json output does not parse: {e}: {out!r}")
        return code, None


class Fake:
    def __init__(self, runtime, names):
        self.p = subprocess.Popen([FAKE, runtime, *names],
                                  stdout=subprocess.PIPE, text=True)
        line = self.p.stdout.readline()
        if line.strip() != "ready":
            raise SystemExit(f"fake_ctl_daemon did not start: {line!r}")

    def stop(self):
        self.p.terminate()
        self.p.wait(timeout=10)


def config_check(tmp):
    bad = os.path.join(tmp, "bad.conf")
    with open(bad, "w") as f:
        f.write("[general]\n"            # 1
                "log_level = loud\n"     # 2
                "\n"                     # 3
                "[video]\n"              # 4
                "fsp = 30\n"             # 5
                "fps = 500\n"            # 6
                "[nonsense]\n"           # 7
                "x = 1\n"                # 8
                "[session]\n"            # 9
                "direct_ip = off\n"      # 10
                "direct_ip = on\n")      # 11
    code, out, err = run(bad, "config", "check")
    check(code == 1, f"config check of a bad file exits 1 (got {code})")
    for needle in (f"{bad}:2: error: [general] log_level = loud",
                   f"{bad}:5: error: [video] fsp: unknown key",
                   f"{bad}:6: error: [video] fps = 500",
                   f"{bad}:7: error: unknown section [nonsense]",
                   f"{bad}:11: warning: [session] direct_ip: given again"):
        check(needle in out, f"config check reports {needle!r}:\n{out}")
    check(":8:" not in out, "keys of an unknown section are not repeated")

    code, doc = run_json(bad, "config", "check")
    if doc:
        check(doc["ok"] is False and code == 1, "json: ok false, exit 1")
        lines = sorted((p["line"], p["severity"]) for p in doc["problems"])
        check(lines == [(2, "error"), (5, "error"), (6, "error"),
                        (7, "error"), (11, "warning")],
              f"json problem lines: {lines}")

    syntax = os.path.join(tmp, "syntax.conf")
    with open(syntax, "w") as f:
        f.write("[general]\nstate_dir = /x\njust words\n")
    code, out, err = run(syntax, "config", "check")
    check(code == 1 and f"{syntax}:3: error:" in out,
          f"a syntax error is reported with its line: {out}")

    layout = os.path.join(tmp, "layout.conf")
    for value, ok in (("de", True), ("it", True), ("dvorak", False),
                      ("DE", False)):
        with open(layout, "w") as f:
            f.write(f"[hid]\ntarget_layout = {value}\n")
        code, out, err = run(layout, "config", "check")
        if ok:
            check(code == 0, f"target_layout = {value} is fine: {out}")
        else:
            check(code == 1 and
                  f"{layout}:2: error: [hid] target_layout = {value}: "
                  "unknown layout (known: us, gb, de, fr, it)" in out,
                  f"target_layout = {value} is reported: {out}")

    code, out, err = run(os.path.join(tmp, "missing.conf"), "config", "check")
    check(code == 1 and "cannot read" in out, "a missing file is reported")

    example = os.path.join(SOURCE, "kvmdesk.conf.example")
    code, out, err = run(example, "config", "check")
    check(code == 0 and out.strip().endswith("keys)") and "ok (" in out,
          f"the shipped example passes config check: {code} {out}")


def status_and_sessions(tmp):
    runtime = os.path.join(tmp, "run")
    conf = os.path.join(tmp, "kvmdesk.conf")
    with open(conf, "w") as f:
        f.write(f"[general]\nruntime_dir = {runtime}\n"
                f"state_dir = {tmp}/state\n")

    code, doc = run_json(conf, "status")
    check(code == 1, "status with nothing running exits 1")
    if doc:
        check([d["up"] for d in doc["daemons"]] == [False] * 4,
              "every daemon down")
        check(doc["sessions"] is None and doc["registration"] is None,
              "no sessions or registration known")

    fake = Fake(runtime, ["rendezvousd", "sessiond", "hidd"])
    try:
        code, out, err = run(conf, "status")
        check(code == 1, "status exits 1 while mediad is down")
        check("mediad       down" in out and "sessiond     up" in out,
              f"text status shows up/down:\n{out}")
        check("registration: registered as 123456789 with 1 of 1" in out,
              f"registration line:\n{out}")
        check("  hbbs.test (127.0.0.1:21116): registered, registered, "
              "NAT asymmetric" in out, f"server line:\n{out}")
        check("987654321" in out and "127.0.0.1:50123" in out and
              "direct" in out, "session row")
        check("\neve" not in out, "a peer's newline does not reach the "
              "terminal")

        code, doc = run_json(conf, "status")
        if doc:
            up = {d["name"]: d["up"] for d in doc["daemons"]}
            check(up == {"rendezvousd": True, "sessiond": True,
                         "mediad": False, "hidd": True}, f"json up: {up}")
            reg = doc["registration"]
            check(reg["state"].startswith("registered as 123456789") and
                  reg["id"] == "123456789" and
                  reg["servers"] == [{"name": "hbbs.test",
                                      "address": "127.0.0.1:21116",
                                      "registered": True,
                                      "state": "registered",
                                      "nat_type": "asymmetric"}],
                  f"json registration {reg}")
            s = doc["sessions"][0]
            check(s["conn_id"] == 7 and s["peer_id"] == "987654321" and
                  s["peer_addr"] == "127.0.0.1:50123" and
                  s["how"] == "direct" and s["authorized"] is True and
                  s["codec"] == "vp9" and
                  s["since"] == "2023-11-14T22:13:20Z", f"json session {s}")
            check(s["peer_name"] == "eve \"the\"\nadmin \ufffd",
                  f"peer name escaped: {s['peer_name']!r}")

        code, doc = run_json(conf, "sessions")
        check(code == 0 and doc and len(doc["sessions"]) == 1,
              "sessions lists one")
        code, out, err = run(conf, "sessions", "close", "8")
        check(code == 1 and "no such session" in err,
              f"closing an unknown session fails: {code} {err}")
        code, doc = run_json(conf, "sessions", "close", "7")
        check(code == 0 and doc == {"conn_id": 7, "closed": True,
                                    "error": None},
              f"close 7: {code} {doc}")
        code, doc = run_json(conf, "sessions")
        check(doc and doc["sessions"] == [], "the session is gone")
        code, out, err = run(conf, "sessions", "close", "abc")
        check(code == 2, "a bad id is a usage error")
    finally:
        fake.stop()

    fake = Fake(runtime, ["rendezvousd", "sessiond", "mediad", "hidd"])
    try:
        code, doc = run_json(conf, "status")
        check(code == 0 and doc and all(d["up"] for d in doc["daemons"]),
              "status exits 0 when all four answer")
    finally:
        fake.stop()
    code, out, err = run(conf, "sessions")
    check(code == 1 and "not running" in err,
          "sessions without sessiond fails clearly")


def server_commands(tmp):
    runtime = os.path.join(tmp, "srv-run")
    conf = os.path.join(tmp, "server.conf")
    original = (f"[general]\nruntime_dir = {runtime}\n"
                f"state_dir = {tmp}/state\n\n"
                "# where the box registers\n[rendezvous]\n"
                "servers = old.example\n\n[session]\ndirect_ip = off\n")
    with open(conf, "w") as f:
        f.write(original)
    key = "OeVuKk5nlHiXp+APNn0Y3pC1Iwpwn44JGqrQCsWqmBw="

    code, out, err = run(conf, "server", "set", "--key", "nope")
    check(code == 1 and "base64 of 32 bytes" in err,
          f"a bad key is refused: {code} {err}")
    code, out, err = run(conf, "server", "set", "--servers", "a b")
    check(code == 1 and "not host[:port]" in err,
          f"a bad server is refused: {code} {err}")
    with open(conf) as f:
        check(f.read() == original, "refusals leave the file alone")
    code, out, err = run(conf, "server", "set", "--bogus", "x")
    check(code == 2, "an unknown option is a usage error")

    # Nothing running: written, applies at the next start.
    code, out, err = run(conf, "server", "set", "--servers",
                         "hbbs.example:21116, [2001:db8::1]", "--key", key,
                         "--relay-key", "s3cret licence")
    check(code == 0 and "not running; the change applies when it next "
          "starts" in out,
          f"set without rendezvousd: {code} {out} {err}")
    with open(conf) as f:
        text = f.read()
    check(text == original.replace(
        "servers = old.example\n",
        "servers = hbbs.example:21116, [2001:db8::1]\n"
        f"key = {key}\nrelay_key = s3cret licence\n"),
        f"only the changed lines changed:\n{text}")

    code, out, err = run(conf, "server")
    check(code == 0 and "hbbs.example:21116, [2001:db8::1]" in out and
          "default: the one hbbs names, else hbbs.example:21117" in out and
          "set (not shown)" in out and "s3cret" not in out and
          "direct_ip:     off" in out,
          f"server shows the settings:\n{out}")
    code, doc = run_json(conf, "server")
    check(code == 0 and doc and
          doc["servers"] == ["hbbs.example:21116", "[2001:db8::1]"] and
          doc["key"] == key and doc["relay"] is None and
          doc["relay_default"] == "hbbs.example:21117" and
          doc["relay_key_set"] is True and doc["direct_ip"] is False and
          doc["rendezvousd"]["up"] is False and
          doc["rendezvousd"]["registration"] is None,
          f"server --json: {doc}")

    fake = Fake(runtime, ["rendezvousd"])
    try:
        code, out, err = run(conf, "server", "set", "--relay",
                             "relay.example", "--relay-key", "")
        check(code == 0 and "rendezvousd: fake reload 1" in out,
              f"set asks rendezvousd to reload: {code} {out} {err}")
        code, doc = run_json(conf, "server")
        check(code == 0 and doc and doc["relay"] == "relay.example" and
              doc["relay_key_set"] is False and
              doc["rendezvousd"]["up"] is True and
              doc["rendezvousd"]["registration"]["servers"][0]["name"] ==
              "hbbs.test", f"server --json with rendezvousd: {doc}")
        code, out, err = run(conf, "server")
        check("  hbbs.test (127.0.0.1:21116): registered" in out,
              f"server shows the live registration:\n{out}")
        code, doc = run_json(conf, "server", "clear")
        check(code == 0 and doc == {"file": conf, "written": True,
                                    "reloaded": True,
                                    "message": "fake reload 2"},
              f"server clear --json: {doc}")
    finally:
        fake.stop()
    with open(conf) as f:
        text = f.read()
    check("[rendezvous]\nservers =\n\n[session]" in text and
          "key" not in text and "relay" not in text,
          f"clear leaves direct IP only:\n{text}")


def main():
    with tempfile.TemporaryDirectory() as tmp:
        config_check(tmp)
        status_and_sessions(tmp)
        server_commands(tmp)
    if failures:
        print(f"{len(failures)} check(s) failed")
        return 1
    print("all kvmdeskctl admin checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
