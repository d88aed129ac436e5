"""Shared helpers for the unit tests: a copy of the built units whose
ExecStart= paths point at the binaries in the build directory."""
import os
import shutil
import subprocess
import sys

BUILD = os.environ["KD_BUILD_DIR"]
SOURCE = os.environ["KD_SOURCE_DIR"]
UNITS_BUILD = os.path.join(BUILD, "units")
SKIP = 77

# program -> path in the build tree
PROGRAMS = {
    "rendezvousd": os.path.join(BUILD, "rendezvousd", "rendezvousd"),
    "sessiond": os.path.join(BUILD, "sessiond", "sessiond"),
    "mediad": os.path.join(BUILD, "mediad", "mediad"),
    "hidd": os.path.join(BUILD, "hidd", "hidd"),
    "kvmdeskctl": os.path.join(BUILD, "kvmdeskctl", "kvmdeskctl"),
    "kvmdesk-gadget": os.path.join(SOURCE, "hidd", "kvmdesk-gadget"),
}

# unit -> (program its ExecStart runs, units verified together with it)
SERVICES = {
    "kvmdesk-rendezvousd.service": ("rendezvousd", []),
    "kvmdesk-sessiond.service": ("sessiond", ["kvmdesk-sessiond.socket",
                                              "kvmdesk-sessiond-handoff.socket"]),
    "kvmdesk-mediad.service": ("mediad", ["kvmdesk-mediad.socket"]),
    "kvmdesk-hidd.service": ("hidd", ["kvmdesk-hidd.socket"]),
    "kvmdesk-init.service": ("kvmdeskctl", []),
    "kvmdesk-gadget.service": ("kvmdesk-gadget", []),
}


def all_units():
    names = sorted(n for n in os.listdir(UNITS_BUILD)
                   if n.endswith((".service", ".socket")))
    return names + ["kvmdesk.target"]


def missing_programs(programs):
    return [p for p in programs if not os.access(PROGRAMS[p], os.X_OK)]


def skip_if_missing(programs):
    missing = missing_programs(programs)
    if missing:
        print("SKIP: not built yet: " +
              ", ".join(f"{p} ({PROGRAMS[p]})" for p in missing))
        sys.exit(SKIP)


def render(tmp, daemondir, bindir, gadget=None):
    """Copies every unit to tmp/units with daemondir/bindir (and the gadget
    script's path) replaced by tmp/bin, which holds symlinks to the built
    programs. Returns the unit directory."""
    bindir_tmp = os.path.join(tmp, "bin")
    unitdir = os.path.join(tmp, "units")
    os.makedirs(bindir_tmp, exist_ok=True)
    os.makedirs(unitdir, exist_ok=True)
    for prog, path in PROGRAMS.items():
        if os.path.exists(path):
            os.symlink(path, os.path.join(bindir_tmp, prog))
    for name in all_units():
        src = os.path.join(UNITS_BUILD if name != "kvmdesk.target"
                           else os.path.join(SOURCE, "units"), name)
        with open(src) as f:
            text = f.read()
        text = text.replace(daemondir + "/", bindir_tmp + "/")
        text = text.replace(bindir + "/", bindir_tmp + "/")
        if gadget:
            text = text.replace(gadget, os.path.join(bindir_tmp,
                                                     "kvmdesk-gadget"))
        with open(os.path.join(unitdir, name), "w") as f:
            f.write(text)
    return unitdir


def man_tree(tmp):
    """A MANPATH with the built man pages, so Documentation= resolves to
    ours. Returns None when there is no man(1) to resolve with."""
    if not shutil.which("man"):
        return None
    root = os.path.join(tmp, "man")
    mandir = os.path.join(BUILD, "man")
    for page in os.listdir(mandir):
        section = page.rsplit(".", 1)[-1]
        if not section.isdigit():
            continue
        os.makedirs(os.path.join(root, "man" + section), exist_ok=True)
        shutil.copy(os.path.join(mandir, page),
                    os.path.join(root, "man" + section, page))
    return root


def run(cmd, env=None):
    p = subprocess.run(cmd, capture_output=True, text=True, env=env,
                       timeout=120)
    return p.returncode, p.stdout + p.stderr


def free_port():
    """A free loopback TCP port in 32000-32699: below the kernel's ephemeral
    range (32768+), where another test's outgoing connection could take it
    before the daemon binds, and apart from the C harnesses' ranges."""
    import random
    import socket
    rng = random.Random(os.getpid() ^ int.from_bytes(os.urandom(4), "little"))
    for _ in range(200):
        port = rng.randrange(32000, 32700)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port")
