#!/usr/bin/env python3
"""meson install into a scratch DESTDIR and check the tree a Debian package
would ship: programs, units, sysusers.d, tmpfiles.d, udev rules, journal
catalog, man pages, example configuration - and nothing from the tests.
    install_tree.py KEY=DIR ...   (the install directories meson uses)"""
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile

BUILD = os.environ["KD_BUILD_DIR"]
DAEMONS = ["rendezvousd", "sessiond", "mediad", "hidd"]
UNITS = ["kvmdesk-init.service", "kvmdesk-rendezvousd.service",
         "kvmdesk-sessiond.service", "kvmdesk-sessiond.socket",
         "kvmdesk-sessiond-handoff.socket", "kvmdesk-mediad.service",
         "kvmdesk-mediad.socket", "kvmdesk-hidd.service",
         "kvmdesk-hidd.socket", "kvmdesk-gadget.service", "kvmdesk.target"]
MAN = ["man1/kvmdeskctl.1", "man5/kvmdesk.conf.5", "man7/kvmdesk.7",
       "man8/rendezvousd.8", "man8/sessiond.8", "man8/mediad.8",
       "man8/hidd.8"]

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def apply_users_and_dirs(dest, dirs):
    """systemd-sysusers and systemd-tmpfiles on the installed files, into
    the scratch root: the users, groups and directories the units need."""
    os.makedirs(os.path.join(dest, "etc"), exist_ok=True)
    sysusers = dest + dirs["sysusersdir"] + "/kvmdesk.conf"
    tmpfiles = dest + dirs["tmpfilesdir"] + "/kvmdesk.conf"
    p = subprocess.run(["systemd-sysusers", "--root=" + dest, sysusers],
                       capture_output=True, text=True)
    check(p.returncode == 0, "systemd-sysusers: " + p.stderr)
    users, groups = {}, {}
    with open(os.path.join(dest, "etc/passwd")) as f:
        for line in f:
            name, _, uid, gid = line.split(":")[:4]
            users[name] = (int(uid), int(gid))
    with open(os.path.join(dest, "etc/group")) as f:
        for line in f:
            name, _, gid, members = line.rstrip("\n").split(":")
            groups[name] = (int(gid), set(filter(None, members.split(","))))
    for u in ["kvmdesk-rdv", "kvmdesk-session", "kvmdesk-media",
              "kvmdesk-hid"]:
        check(u in users, f"sysusers: user {u}")
        check(u in groups.get("kvmdesk", (0, set()))[1],
              f"sysusers: {u} in group kvmdesk")
    for g in ["video", "audio"]:
        check("kvmdesk-media" in groups.get(g, (0, set()))[1],
              f"sysusers: kvmdesk-media in group {g}")
    p = subprocess.run(["systemd-tmpfiles", "--root=" + dest, "--create",
                        tmpfiles], capture_output=True, text=True)
    check(p.returncode == 0, "systemd-tmpfiles: " + p.stderr)
    session_uid = users.get("kvmdesk-session", (-1, -1))[0]
    kvmdesk_gid = groups.get("kvmdesk", (-1, set()))[0]
    for path, mode, uid in [("/run/kvmdesk", 0o1770, 0),
                            ("/var/lib/kvmdesk", 0o750, session_uid),
                            ("/var/lib/kvmdesk/private", 0o700, session_uid)]:
        try:
            st = os.stat(dest + path)
        except OSError:
            check(False, f"tmpfiles: {path} created")
            continue
        check(stat.S_IMODE(st.st_mode) == mode and st.st_uid == uid and
              st.st_gid == kvmdesk_gid,
              f"tmpfiles: {path} {oct(stat.S_IMODE(st.st_mode))} "
              f"{st.st_uid}:{st.st_gid}, want {oct(mode)} {uid}:{kvmdesk_gid}")


def main():
    dirs = dict(a.split("=", 1) for a in sys.argv[1:])
    with tempfile.TemporaryDirectory() as dest:
        p = subprocess.run(["meson", "install", "-C", BUILD, "--no-rebuild",
                            "--quiet", "--destdir", dest],
                           capture_output=True, text=True, timeout=300)
        if p.returncode != 0:
            print(p.stdout, p.stderr)
            print("FAIL: meson install")
            return 1

        def at(d, name=""):
            return os.path.join(dest + dirs[d], name)

        def executable(path):
            return os.path.isfile(path) and os.access(path, os.X_OK)

        check(executable(at("bindir", "kvmdeskctl")),
              "kvmdeskctl in " + dirs["bindir"])
        for d in DAEMONS:
            if not os.path.exists(os.path.join(BUILD, d, d)):
                print(f"note: {d} not built yet, not checked")
                continue
            check(executable(at("daemondir", d)),
                  f"{d} in {dirs['daemondir']}")
            check(not os.path.exists(at("bindir", d)),
                  f"{d} must not be in {dirs['bindir']} (generic name)")
        for u in UNITS:
            path = at("unitdir", u)
            check(os.path.isfile(path), f"{u} in {dirs['unitdir']}")
            if not os.path.isfile(path):
                continue
            with open(path) as f:
                text = f.read()
            check(not re.search(r"@[a-z_]+@", text),
                  f"{u}: unreplaced @variable@")
            for exe in re.findall(r"^ExecStart=(\S+)", text, re.M):
                name = os.path.basename(exe)
                if name in DAEMONS and \
                        not os.path.exists(os.path.join(BUILD, name, name)):
                    continue
                check(executable(dest + exe),
                      f"{u}: ExecStart={exe} is installed")
        check(os.path.isfile(at("sysusersdir", "kvmdesk.conf")),
              "sysusers.d/kvmdesk.conf")
        if os.path.isfile(at("sysusersdir", "kvmdesk.conf")):
            with open(at("sysusersdir", "kvmdesk.conf")) as f:
                text = f.read()
            for user in ["kvmdesk-rdv", "kvmdesk-session", "kvmdesk-media",
                         "kvmdesk-hid"]:
                check(re.search(rf"^u {user}\s", text, re.M),
                      f"sysusers creates {user}")
            check(re.search(r"^g kvmdesk\s", text, re.M),
                  "sysusers creates group kvmdesk")
        check(os.path.isfile(at("tmpfilesdir", "kvmdesk.conf")),
              "tmpfiles.d/kvmdesk.conf")
        check(os.path.isfile(at("modulesloaddir", "kvmdesk.conf")),
              "modules-load.d/kvmdesk.conf (libcomposite)")
        check(os.path.isfile(at("catalogdir", "kvmdesk.catalog")),
              "journal catalog")
        check(os.path.isfile(at("udevrulesdir", "70-kvmdesk.rules")),
              "udev rules")
        for page in MAN:
            check(os.path.isfile(at("mandir", page)), f"man page {page}")
        check(os.path.isfile(at("docdir", "kvmdesk.conf.example")),
              "kvmdesk.conf.example in " + dirs["docdir"])

        if os.geteuid() == 0 and shutil.which("systemd-sysusers"):
            apply_users_and_dirs(dest, dirs)
        else:
            print("note: not root: sysusers/tmpfiles not applied")

        installed = []
        for root, _, files in os.walk(dest):
            installed += [os.path.join(root, f)[len(dest):] for f in files]
        for path in installed:
            base = os.path.basename(path)
            check(not base.startswith(("test_", "fake_", "fuzz_")),
                  f"test program installed: {path}")
            check(not path.endswith(".a"), f"static library installed: {path}")
        print(f"{len(installed)} files installed:")
        for path in sorted(installed):
            print("  " + path)
    if failures:
        print(f"{len(failures)} problem(s)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
