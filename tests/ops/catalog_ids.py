#!/usr/bin/env python3
"""Every MESSAGE_ID in common/log_ids.h has an entry in units/kvmdesk.catalog
(and the catalog has no entry for an id that does not exist), each with a
Subject, and journalctl compiles the catalog."""
import os
import re
import shutil
import subprocess
import sys
import tempfile

SOURCE = os.environ["KD_SOURCE_DIR"]


def main():
    with open(os.path.join(SOURCE, "common", "log_ids.h")) as f:
        ids = dict((v, k) for k, v in re.findall(
            r'#define\s+(KD_MSGID_\w+)\s+"([0-9a-f]{32})"', f.read()))
    catalog_path = os.path.join(SOURCE, "units", "kvmdesk.catalog")
    with open(catalog_path) as f:
        catalog = f.read()
    entries = {}
    for block in re.split(r"^-- ", catalog, flags=re.M)[1:]:
        head, _, body = block.partition("\n")
        entries[head.strip()] = body
    failed = []
    if not ids:
        failed.append("no ids found in log_ids.h")
    for mid, name in sorted(ids.items(), key=lambda x: x[1]):
        body = entries.get(mid)
        if body is None:
            failed.append(f"{name} ({mid}) has no catalog entry")
        elif not re.search(r"^Subject: \S", body, re.M):
            failed.append(f"{name} ({mid}) has no Subject:")
        elif not re.search(r"^Defined-By: kvmdesk$", body, re.M):
            failed.append(f"{name} ({mid}) has no Defined-By: kvmdesk")
    for mid in entries:
        if mid not in ids:
            failed.append(f"catalog entry {mid} matches no id in log_ids.h")

    # journalctl must accept the file: compile it into a scratch root.
    if shutil.which("journalctl"):
        with tempfile.TemporaryDirectory() as root:
            catdir = os.path.join(root, "usr/lib/systemd/catalog")
            os.makedirs(catdir)
            os.makedirs(os.path.join(root, "var/lib/systemd/catalog"))
            shutil.copy(catalog_path, catdir)
            p = subprocess.run(["journalctl", "--root=" + root,
                                "--update-catalog"],
                               capture_output=True, text=True)
            listed = subprocess.run(["journalctl", "--root=" + root,
                                     "--list-catalog"],
                                    capture_output=True, text=True)
            got = set(line.split()[0] for line in listed.stdout.splitlines()
                      if line.strip())
            if p.returncode != 0 or p.stderr.strip():
                failed.append("journalctl --update-catalog: " + p.stderr)
            if got != set(ids):
                failed.append(f"journalctl lists {sorted(got)}, "
                              f"expected {sorted(ids)}")
    else:
        print("note: no journalctl; catalog syntax not compiled")

    for f in failed:
        print("FAIL:", f)
    print(f"{len(ids)} ids, {len(entries)} catalog entries")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
