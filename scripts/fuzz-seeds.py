#!/usr/bin/env python3
"""Seed fuzz/corpus/{lab_load,inventory_load,batch_sections} from the repository's own labs,
rosters and batch outputs: the lab files, and the string literals of the tests that hold a
lab or a roster. The probe targets are seeded by the unit tests themselves (fuzz.sh -s)."""

import hashlib
import pathlib
import re
import sys
import warnings

warnings.filterwarnings("ignore", category=DeprecationWarning)

root = pathlib.Path(__file__).resolve().parent.parent
corpus = root / "fuzz" / "corpus"


def keep(target: str, data: bytes) -> None:
    folder = corpus / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / ("repo-" + hashlib.sha1(data).hexdigest()[:16])).write_bytes(data)


def rust_strings(text: str):
    """The string literals of a Rust file, raw and plain, as their values."""
    for m in re.finditer(r'r(#+)"(.*?)"\1', text, re.S):
        yield m.group(2)
    for m in re.finditer(r'(?<![r#\w])"((?:[^"\\]|\\.)*)"', text, re.S):
        raw = m.group(1)
        # A backslash at a line's end continues the string without the newline and indent.
        raw = re.sub(r"\\\n\s*", "", raw)
        try:
            yield raw.encode("latin-1", "backslashreplace").decode("unicode_escape")
        except UnicodeDecodeError:
            continue


labs = list((root / "labs").glob("*.yaml")) + list((root / "tests" / "labs").glob("*.yaml"))
for path in labs:
    keep("lab_load", path.read_bytes())

sources = list((root / "tests").glob("*.rs")) + list((root / "src").rglob("*.rs"))
for path in sources:
    for value in rust_strings(path.read_text()):
        data = value.encode()
        if "tasks:" in value and "lab:" in value:
            keep("lab_load", data)
        elif "candidates:" in value:
            keep("inventory_load", b"\x00" + data)
        elif re.match(r"^\ufeff?(#.*\n)*id[,;]", value):
            keep("inventory_load", b"\x01" + data)

# The batch's format: the unit test's sections, a batch cut short, and a round trip.
nonce = "labgrade-00000000000000ab"
keep("batch_sections", f"hel\nx\n{nonce} 0 0\n\n{nonce} 1 1\nno newline\n{nonce} 2 3\ncut sho\0\n{nonce} 0\nerr\n\n{nonce} 1\n\n{nonce} 2\n".encode())
keep("batch_sections", f"a\n{nonce} 0 0\nb\n{nonce} 1 0\n\0\n{nonce} 1\n".encode())
keep("batch_sections", b"out\0err\0\x81second\0\0")
# The recordings of Windows servers and IOS devices (tests/recorded/): each answer as the
# kind that reads it gets it. The first byte picks the kind among that system's kinds, in
# the order of the registry (KINDS in src/probe/mod.rs, where `&windows::AD_USER` is the
# kind `ad_user`), read from there so that the two never disagree.
registry = (root / "src" / "probe" / "mod.rs").read_text()
windows_kinds = [n.lower() for n in re.findall(r"&windows::([A-Z_]+),", registry)]
ios_kinds = [n.lower() for n in re.findall(r"&ios::([A-Z_]+),", registry)]
for path in sorted((root / "tests" / "recorded" / "windows").rglob("*.json")):
    stem = path.name.split(".")[0]
    for kind in sorted(windows_kinds, key=len, reverse=True):
        if stem.startswith(kind + "-"):
            subject = stem[len(kind) + 1:]
            pick = windows_kinds.index(kind)
            keep("windows_probe", bytes([pick]) + f"{subject}\n\n0\n\n".encode() + path.read_bytes())
            break
ios_readers = {"show_running-config": ("config", "interface Vlan10"), "show_vlan_brief": ("vlan", "10"),
               "show_ip_interface_brief": ("interface", "Vlan10"), "show_ip_route": ("route", "0.0.0.0/0")}
for path in sorted((root / "tests" / "recorded" / "ios").rglob("*.txt")):
    kind, subject = ios_readers[path.stem]
    keep("ios_probe", bytes([ios_kinds.index(kind)]) + f"{subject}\n\n0\n\n".encode() + path.read_bytes())
print(f"seeded {corpus}", file=sys.stderr)
