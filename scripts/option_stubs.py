#!/usr/bin/env python3
"""Writes the options' typings of the Python stubs from core's table of
host options (rtmfp_core::host::options::ROWS).

Each option is one row of core's table: its name, kind and range, default,
doc, and the objects that take it.  This script turns the table (its JSON,
`table_json`) into
  - the keywords of Endpoint, NetConnection, Server and check() in
    bindings/python/python/rtmfp/_rtmfp.pyi, between the markers
    `# <options of OBJECT ...>` and `# </options>` inside each signature
    (the keywords written by hand, PYTHON_BY_HAND, stay outside them).
The Python docstrings are not generated: the package builds them from the
same table when it is imported (rtmfp/__init__.py, `_options_doc`).

  python3 scripts/option_stubs.py                 rewrite the generated parts
  python3 scripts/option_stubs.py --check         exit 1 if they are stale
  ... --table FILE                                the table's JSON from FILE
                                                  (- for stdin) instead of
                                                  `cargo run --example option_table`

(bindings/python/tests/test_options.py runs the check with the table of
the module it tests.)
"""
import json
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STUBS = os.path.join(ROOT, "bindings", "python", "python", "rtmfp", "_rtmfp.pyi")

PY_BEGIN = re.compile(r"^( *)# <options of (\w+) from core's table by scripts/option_stubs\.py: do not edit>\n", re.M)
PY_END = "# </options>"

# Rows Python writes by hand (outside the generated parts), and why.
PYTHON_BY_HAND = {
    "bind": "positional in Endpoint and Server; host names are resolved",
    "keys": "a list of keys, or the path of a keys file (keys_file)",
    "keys_file": "given as keys",
    "keepalive": "None sends none, so the default is the pair, not None",
    "ask_connect": "asked while Server.on_connect is set",
    "ask_publish": "asked while Server.on_publish is set",
    "ask_play": "asked while Server.on_play is set",
    "peer_connect_mode": "NetStream.on_peer_connect asks per stream",
}

# A kind's type as Python takes it (what its adapter converts).
PY_TYPES = {
    "duration": "Optional[float]",
    "count": "Optional[int]",
    "flag": "Optional[bool]",
    "text": "Optional[str]",
    "turn_uri": "Optional[str]",
    "addresses": "Optional[_Addresses]",
    "groups": "Optional[Sequence[int]]",
    "key_log": 'Union[None, str, "os.PathLike[str]"]',
    "keys": "Optional[Sequence[str]]",
    "keys_file": 'Union[None, str, "os.PathLike[str]"]',
    "keepalive": "Optional[Tuple[float, float]]",
}

OBJECTS = ("endpoint", "netconnection", "server")


def load_table(source=None):
    """The table's rows: from `source` (a path, or - for stdin), else from
    core through cargo."""
    if source == "-":
        return json.load(sys.stdin)
    if source:
        with open(source, encoding="utf-8") as f:
            return json.load(f)
    out = subprocess.run(
        ["cargo", "run", "-q", "-p", "rtmfp-core", "--example", "option_table"],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout
    return json.loads(out)


def py_type(row):
    if row["kind"] == "word":
        return "Optional[Literal[" + ", ".join(f'"{w}"' for w in row["words"]) + "]]"
    return PY_TYPES[row["kind"]]


def python_part(rows, obj, indent):
    """The generated keywords of a signature taking the rows of `obj`."""
    return "".join(
        f"{indent}{r['name']}: {py_type(r)} = None,\n"
        for r in rows
        if obj in r["objects"] and r["name"] not in PYTHON_BY_HAND
    )


def render_python(stubs, rows):
    """`stubs` with every generated list of keywords rewritten."""
    out, at = [], 0
    for m in PY_BEGIN.finditer(stubs):
        indent, obj = m.group(1), m.group(2)
        if obj not in OBJECTS:
            raise ValueError(f"{STUBS}: no object {obj!r}")
        end = stubs.index(indent + PY_END, m.end())
        out += [stubs[at : m.end()], python_part(rows, obj, indent)]
        at = end
    if not out:
        raise ValueError(f"{STUBS}: no generated keywords")
    return "".join(out) + stubs[at:]


def main():
    args = sys.argv[1:]
    source = args[args.index("--table") + 1] if "--table" in args else None
    rows = load_table(source)
    stale = []
    for path, render in ((STUBS, render_python),):
        with open(path, encoding="utf-8") as f:
            current = f.read()
        fresh = render(current, rows)
        if fresh == current:
            continue
        if "--check" in args:
            stale.append(path)
        else:
            with open(path, "w", encoding="utf-8") as f:
                f.write(fresh)
    if stale:
        sys.exit("stale: " + ", ".join(stale) + ": run python3 scripts/option_stubs.py")


if __name__ == "__main__":
    main()
