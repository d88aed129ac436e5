#!/usr/bin/env python3
"""mandoc -T lint on every generated man page; any message at warning level
or above fails. Also: every program has its page."""
import os
import re
import subprocess
import sys

BUILD = os.environ["KD_BUILD_DIR"]
PAGES = ["kvmdesk.7", "kvmdesk.conf.5", "kvmdeskctl.1", "rendezvousd.8",
         "sessiond.8", "mediad.8", "hidd.8"]


def main():
    failed = 0
    for page in PAGES:
        path = os.path.join(BUILD, "man", page)
        if not os.path.exists(path):
            print(f"FAIL: {page} was not generated")
            failed += 1
            continue
        p = subprocess.run(["mandoc", "-T", "lint", "-W", "warning", path],
                           capture_output=True, text=True)
        out = (p.stdout + p.stderr).strip()
        if p.returncode != 0 or out:
            print(f"FAIL: {page} (exit {p.returncode}):\n{out}")
            failed += 1
        else:
            print(f"{page}: clean")
        # The page must render to something with its NAME section.
        r = subprocess.run(["mandoc", "-T", "utf8", path],
                           capture_output=True, text=True)
        text = re.sub(r".\x08", "", r.stdout)  # drop overstrike (bold)
        if r.returncode != 0 or "\nNAME\n" not in text:
            print(f"FAIL: {page} does not render")
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
