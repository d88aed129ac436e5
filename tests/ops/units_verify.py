#!/usr/bin/env python3
"""systemd-analyze verify on one unit (with the socket units it owns), or on
kvmdesk.target with everything. The units are the ones meson generated,
with ExecStart= pointing at the built binaries; Documentation= is resolved
against the built man pages.
    units_verify.py DAEMONDIR BINDIR GADGET UNIT"""
import os
import sys
import tempfile

import kdunits


def main():
    daemondir, bindir, gadget, unit = sys.argv[1:5]
    if unit == "kvmdesk.target":
        kdunits.skip_if_missing(kdunits.PROGRAMS.keys())
        units = kdunits.all_units()
    else:
        prog, sockets = kdunits.SERVICES[unit]
        kdunits.skip_if_missing([prog])
        units = [unit] + sockets
    with tempfile.TemporaryDirectory() as tmp:
        unitdir = kdunits.render(tmp, daemondir, bindir, gadget)
        env = dict(os.environ)
        man = kdunits.man_tree(tmp)
        cmd = ["systemd-analyze", "verify"]
        if man:
            env["MANPATH"] = man
        else:
            print("note: no man(1) here; Documentation= not checked")
            cmd.append("--man=no")
        cmd += [os.path.join(unitdir, u) for u in units]
        code, out = kdunits.run(cmd, env)
        print(" ".join(cmd))
        print(out)
        if code != 0 or out.strip():
            print(f"FAIL: systemd-analyze verify exit {code}, output above")
            return 1
    print(f"{unit}: verified")
    return 0


if __name__ == "__main__":
    sys.exit(main())
