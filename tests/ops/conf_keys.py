#!/usr/bin/env python3
"""The list of known keys agrees everywhere: the keys the programs read
(kd_config_get*(cfg, "section", "key", ...) in their sources), kvmdeskctl's
config check table (kvmdeskctl/config_check.c), kvmdesk.conf(5), and the
shipped example (every key in the example is known; every known key is at
least mentioned in the example, commented or not)."""
import os
import re
import sys

SOURCE = os.environ["KD_SOURCE_DIR"]


def table_keys():
    with open(os.path.join(SOURCE, "kvmdeskctl", "config_check.c")) as f:
        text = f.read()
    return set(re.findall(r'\{ "(\w+)", "(\w+)", V_', text))


def man_keys():
    with open(os.path.join(SOURCE, "man", "kvmdesk.conf.5.in")) as f:
        text = f.read()
    keys, section = set(), None
    for line in text.splitlines():
        m = re.match(r"\.Ss The \[(\w+)\] section", line)
        if m:
            section = m.group(1)
            continue
        if line.startswith(".Sh"):
            section = None
        m = re.match(r"\.It Cm (\w+)", line)
        if m and section:
            keys.add((section, m.group(1)))
    return keys


def example_keys():
    keys, section = set(), None
    with open(os.path.join(SOURCE, "kvmdesk.conf.example")) as f:
        for line in f:
            line = line.strip()
            m = re.match(r"\[(\w+)\]$", line)
            if m:
                section = m.group(1)
                continue
            m = re.match(r"[#;]?\s*(\w+)\s*=", line)
            if m and section:
                keys.add((section, m.group(1)))
    return keys


def source_keys():
    keys = set()
    pattern = re.compile(r'kd_config_get\w*\(\s*\w+,\s*"(\w+)",\s*"(\w+)"')
    for d in ["common", "rendezvousd", "sessiond", "mediad", "hidd",
              "kvmdeskctl"]:
        for root, _, files in os.walk(os.path.join(SOURCE, d)):
            for f in files:
                if f.endswith(".c"):
                    with open(os.path.join(root, f)) as fh:
                        keys |= set(pattern.findall(fh.read()))
    return keys


def main():
    table, man, example = table_keys(), man_keys(), example_keys()
    failed = []
    for s, k in sorted(source_keys() - table):
        failed.append(f"[{s}] {k} is read by a program but unknown to "
                      "config check (kvmdeskctl/config_check.c)")
    if len(table) < 10:
        failed.append(f"config_check.c table not found ({len(table)} keys)")
    for s, k in sorted(table - man):
        failed.append(f"[{s}] {k} is not documented in kvmdesk.conf(5)")
    for s, k in sorted(man - table):
        failed.append(f"[{s}] {k} is documented but config check "
                      "does not know it")
    for s, k in sorted(table - example):
        failed.append(f"[{s}] {k} is missing from kvmdesk.conf.example")
    for s, k in sorted(example - table):
        failed.append(f"[{s}] {k} in kvmdesk.conf.example is unknown")
    for f in failed:
        print("FAIL:", f)
    print(f"{len(table)} keys known")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
