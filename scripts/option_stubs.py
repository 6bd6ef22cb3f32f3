#!/usr/bin/env python3
"""Writes the options' typings of the Python stubs and Node's declarations
from core's table of host options (rtmfp_core::host::options::ROWS).

Each option is one row of core's table: its name, kind and range, default,
doc, and the objects that take it.  This script turns the table (its JSON,
`table_json`) into
  - the keywords of Endpoint, NetConnection, Server and check() in
    bindings/python/python/rtmfp/_rtmfp.pyi, between the markers
    `# <options of OBJECT ...>` and `# </options>` inside each signature
    (the keywords written by hand, PYTHON_BY_HAND, stay outside them);
  - the options interfaces of bindings/node/lib/index.d.ts
    (TransportOptions, EndpointTableOptions, NetConnectionTableOptions,
    ServerTableOptions), each option typed from its kind and documented
    with its doc, core's words for its kind and its default.
The Python docstrings are not generated: the package builds them from the
same table when it is imported (rtmfp/__init__.py, `_options_doc`).

  python3 scripts/option_stubs.py                 rewrite the generated parts
  python3 scripts/option_stubs.py --check         exit 1 if they are stale
  ... --table FILE                                the table's JSON from FILE
                                                  (- for stdin) instead of
                                                  `cargo run --example option_table`

(bindings/python/tests/test_options.py and bindings/node/test/options.test.js
run the check with the table of the module they test.)
"""
import json
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STUBS = os.path.join(ROOT, "bindings", "python", "python", "rtmfp", "_rtmfp.pyi")
DTS = os.path.join(ROOT, "bindings", "node", "lib", "index.d.ts")

PY_BEGIN = re.compile(r"^( *)# <options of (\w+) from core's table by scripts/option_stubs\.py: do not edit>\n", re.M)
PY_END = "# </options>"
TS_BEGIN = "// <options from core's table (rtmfp_core::host::options) by scripts/option_stubs.py: do not edit>\n"
TS_END = "// </options>"

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

# Rows Node writes by hand (lib/index.d.ts, outside the generated part).
NODE_BY_HAND = {
    "keys": "a list of keys, or the path of a keys file (keysFile)",
    "keys_file": "given as keys",
    "ask_connect": "asked while onConnect is set",
    "ask_publish": "asked while onPublish is set",
    "ask_play": "asked while onPlay is set",
    "peer_connect_mode": "NetStream's onPeerConnect asks per stream",
}

# A kind's type as each language takes it (what its adapter converts).
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
TS_TYPES = {
    "duration": "number",
    "count": "number",
    "flag": "boolean",
    "text": "string",
    "turn_uri": "string | null",
    "addresses": "Address | Address[] | number",
    "groups": "number[]",
    "key_log": "string | null",
    "keys": "string[]",
    "keys_file": "string",
    "keepalive": "[number, number] | null",
}
# A kind in Node's words where core's (`expects`) are not Node's.
TS_WORDS = {
    "duration": "in ms",
    "addresses": 'an address ("ip:port" or { address, port }), a list of them, or a port',
    "keepalive": "[ms, ms], or null: none sent",
    "turn_uri": '"turn:HOST[:PORT]" or "turn://USER:PASS@HOST[:PORT]"',
    "key_log": "a path, or null",
}

OBJECTS = ("endpoint", "netconnection", "server")
TS_INTERFACES = {
    "endpoint": "EndpointTableOptions",
    "netconnection": "NetConnectionTableOptions",
    "server": "ServerTableOptions",
}
TS_NAMES = {"endpoint": "an Endpoint", "netconnection": "a NetConnection", "server": "a Server"}


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


def ts_type(row):
    if row["kind"] == "word":
        return " | ".join(f"'{w}'" for w in row["words"])
    return TS_TYPES[row["kind"]]


def sentence(text):
    """`text` with a capital first letter (not a URI's) and a full stop."""
    if re.match(r"[a-z]+\b(?!:)", text):
        text = text[:1].upper() + text[1:]
    return text if text.endswith(".") else text + "."


def ts_doc(row):
    """One line of JSDoc: the row's doc, the kind in Node's words, the default."""
    if row["kind"] == "word":
        words = "one of " + ", ".join(f"'{w}'" for w in row["words"])
    else:
        words = TS_WORDS.get(row["kind"], row["expects"])
    text = f"{sentence(row['doc'])} {sentence(words + '; default ' + row['default'])}"
    if "*/" in text:
        raise ValueError(f"{row['name']}: the doc cannot be a JSDoc comment: {text!r}")
    return f"/** {text} */"


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


def node_part(rows):
    """The options interfaces: the rows every object takes, then each
    object's own rows."""
    rows = [r for r in rows if r["name"] not in NODE_BY_HAND]
    every = [r for r in rows if set(r["objects"]) == set(OBJECTS)]

    def members(some):
        return "".join(f"  {ts_doc(r)}\n  {r['camel']}?: {ts_type(r)}\n" for r in some)

    out = [
        "/**\n"
        " * The options of core's table (rtmfp_core::host::options) that every object\n"
        " * (Endpoint, NetConnection, Server, check()) takes; core checks them and a\n"
        " * refusal throws an RtmfpError ERR_RTMFP_INVALID_ARGUMENT naming `options.KEY`.\n"
        " */\n"
        "export interface TransportOptions {\n" + members(every) + "}\n"
    ]
    for obj in OBJECTS:
        own = [r for r in rows if obj in r["objects"] and r not in every]
        out.append(
            f"\n/** The options of core's table that {TS_NAMES[obj]} takes besides TransportOptions. */\n"
            f"export interface {TS_INTERFACES[obj]} extends TransportOptions {{\n"
            + members(own)
            + "}\n"
        )
    return "".join(out)


def render_node(dts, rows):
    """`dts` with the generated options interfaces rewritten."""
    start = dts.index(TS_BEGIN) + len(TS_BEGIN)
    end = dts.index(TS_END, start)
    return dts[:start] + node_part(rows) + dts[end:]


def main():
    args = sys.argv[1:]
    source = args[args.index("--table") + 1] if "--table" in args else None
    rows = load_table(source)
    stale = []
    for path, render in ((STUBS, render_python), (DTS, render_node)):
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
