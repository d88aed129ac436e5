#!/usr/bin/env python3
"""systemd-analyze security --offline=yes rates each kvmdesk service 2.0 or
lower ("Overall exposure level for X: N.N"). Works on the units meson
generated; the rating does not need the binaries.
    units_security.py DAEMONDIR BINDIR GADGET [MAX]"""
import os
import re
import sys
import tempfile

import kdunits


def main():
    daemondir, bindir, gadget = sys.argv[1:4]
    limit = float(sys.argv[4]) if len(sys.argv) > 4 else 2.0
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        unitdir = kdunits.render(tmp, daemondir, bindir, gadget)
        for unit in sorted(kdunits.SERVICES):
            cmd = ["systemd-analyze", "security", "--offline=yes",
                   "--no-pager", os.path.join(unitdir, unit)]
            code, out = kdunits.run(cmd)
            m = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", out)
            if not m:
                print(out)
                print(f"FAIL: {unit}: no exposure level (exit {code})")
                failed += 1
                continue
            score = float(m.group(1))
            verdict = "ok" if score <= limit else "FAIL"
            print(f"{unit}: {score:.1f} (limit {limit:.1f}) {verdict}")
            if score > limit:
                print(out)
                failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
