#!/usr/bin/env python3
"""Writes the event classes of the Python stubs from their Rust declarations.

Each Python event (and record) class is declared once, by `event_class!` in
bindings/python/src/events.rs and flash_events.rs: its doc, kind, and each
field with its Rust type and, for a word, the words it can be
(`role: String = "initiator" | "responder"`).  This script turns those
declarations into the classes of bindings/python/python/rtmfp/_rtmfp.pyi,
between the markers that name each source file: a `@final` class with
the doc's first sentence and one read-only (`Final`) attribute per field.
A class of getters only (GETTER_CLASSES: `CheckReport` in check.rs) is
written the same way from its `#[pymethods]`: one property per getter.

Node's `CheckReport` (bindings/node/lib/index.d.ts) is written the same
way from the `#[napi(object)]` struct the addon hands over
(NODE_INTERFACES: `NativeCheckReport` in bindings/node/src/check.rs):
one documented read-only property per field, camelCase, an `Option` as
`| null` (lib/check.js turns `undefined` into `null`), between the
markers `// <fields of STRUCT ...>` and `// </fields>`.

  python3 scripts/event_stubs.py                  rewrite the generated parts
  python3 scripts/event_stubs.py --check          exit 1 if they are stale
  python3 scripts/event_stubs.py --check --node   only Node's declarations

(bindings/python/tests/test_stubs.py and bindings/node/test/options.test.js
run the check.)
"""
import os
import re
import sys
import textwrap

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PY = os.path.join(ROOT, "bindings", "python")
STUBS = os.path.join(PY, "python", "rtmfp", "_rtmfp.pyi")
SOURCES = ["src/events.rs", "src/flash_events.rs", "src/check.rs"]
# `#[pyclass]`es whose `#[pymethods]` are getters (and dunders) only.
GETTER_CLASSES = {"src/check.rs": ["CheckReport"]}
BEGIN = "# <generated from bindings/python/{} by scripts/event_stubs.py: do not edit>"
END = "# </generated>"

# Rust field types as Python sees them (convert.rs, events.rs).
SCALARS = {
    "String": "str", "bool": "bool", "f64": "float",
    "u8": "int", "u16": "int", "u32": "int", "u64": "int", "usize": "int",
    "Py<PyBytes>": "bytes", "Py<PyDict>": "Dict[str, Any]",
    "Py<PyList>": "List[Any]", "Py<PyAny>": "Any",
}
WRAPPERS = {"Option": "Optional", "Vec": "List"}
BUILTINS = {"str", "bool", "float", "int", "bytes"}

NODE = os.path.join(ROOT, "bindings", "node")
DTS = os.path.join(NODE, "lib", "index.d.ts")
# `#[napi(object)]` structs whose fields a lib/index.d.ts interface has.
NODE_INTERFACES = {"src/check.rs": "NativeCheckReport"}
TS_BEGIN = "  // <fields of {} in bindings/node/{} by scripts/event_stubs.py: do not edit>\n"
TS_END = "  // </fields>"
# Rust field types as lib/index.d.ts declares them.
TS_SCALARS = {"bool": "boolean", "String": "string", "f64": "number", "u32": "number"}
# `lines`: napi hands each `[key, text]` pair over as an array.
TS_WHOLE = {"Vec<Vec<String>>": "ReadonlyArray<readonly [string, string]>"}


def python_type(rust, words=None):
    """The stub type of a Rust field type (a Literal for a word)."""
    rust = re.sub(r"&'\w+\s*", "&", rust).replace(" ", "").replace("&str", "String")
    if words:
        if rust != "String":
            raise ValueError(f"words on a {rust} field")
        return "Literal[" + ", ".join(words) + "]"
    if rust in SCALARS:
        return SCALARS[rust]
    m = re.fullmatch(r"(\w+)<(.+)>", rust)
    if m and m.group(1) in WRAPPERS:
        return f"{WRAPPERS[m.group(1)]}[{python_type(m.group(2))}]"
    if m and m.group(1) == "Py" and re.fullmatch(r"(?!Py)\w+", m.group(2)):
        return m.group(2)  # one of this module's classes (Session, ...)
    if m and m.group(1) == "PyResult":
        return python_type(m.group(2))
    m = re.fullmatch(r"\((\w+),(\w+)\)", rust)
    if m:
        return f"Tuple[{python_type(m.group(1))}, {python_type(m.group(2))}]"
    raise ValueError(f"no Python type for the Rust type {rust}")


def blocks(text):
    """The bodies of the `event_class! { ... }` invocations in `text`."""
    for m in re.finditer(r"^event_class! \{$", text, re.M):
        depth, i = 0, m.end() - 1
        for j in range(i, len(text)):
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            if depth == 0:
                yield text[i + 1 : j]
                break


def first_sentence(doc):
    """The first sentence of a doc comment's lines, one string."""
    text = " ".join(doc)
    m = re.match(r"(.+?\.)(\s|$)", text)
    return re.sub("`+", "``", m.group(1) if m else text)


def parse(body):
    """One declaration: (name, kind or None for a record, doc, fields,
    methods); a field is (name, stub type), a method (name, type, doc)."""
    lines = [line.strip() for line in body.strip().splitlines()]
    doc = []
    while lines[0].startswith("///"):
        doc.append(lines.pop(0)[3:].strip())
    head = re.fullmatch(r'(record )?(\w+) = "(\w+)" \{', lines.pop(0))
    if not head:
        raise ValueError(f"unexpected event_class! head in {body[:80]!r}")
    record, name, kind = head.groups()
    fields, pending = [], ""
    while lines and not lines[0].startswith("}"):
        line = lines.pop(0)
        if line.startswith("//"):
            continue
        pending += " " + line
        if pending.endswith(","):
            m = re.fullmatch(r"(\w+): ([^=]+?)(?: = (.+))?,", pending.strip())
            if not m:
                raise ValueError(f"{name}: cannot read the field {pending.strip()!r}")
            words = m.group(3) and [w.strip() for w in m.group(3).split("|")]
            fields.append((m.group(1), python_type(m.group(2), words)))
            pending = ""
    methods, mdoc = [], []
    for line in lines:
        if line.startswith("///"):
            mdoc.append(line[3:].strip())
            continue
        m = re.match(r"fn (\w+)\(&self(?:, py: Python<'_>)?\) -> (.+) \{$", line)
        if m and not m.group(1).startswith("__"):
            methods.append((m.group(1), python_type(m.group(2)), first_sentence(mdoc)))
        elif line.startswith("fn ") and not line.startswith("fn __"):
            raise ValueError(f"{name}: cannot type the method {line!r}")
        if not line.startswith("#["):
            mdoc = []
    return name, None if record else kind, first_sentence(doc), fields, methods


def stub(name, kind, doc, fields, methods):
    """The stub text of one class."""
    names = {f for f, _ in fields}
    # A field named like a builtin type hides it in the class body (a
    # Literal's words are not types).
    def qualify(t):
        if not names & BUILTINS or t.startswith("Literal["):
            return t
        return re.sub(r"\b(str|bool|float|int|bytes)\b", r"builtins.\1", t)

    if '"""' in doc or "\\" in doc:
        raise ValueError(f"{name}: the doc cannot be a plain docstring: {doc!r}")
    doc = textwrap.fill(doc, 72, initial_indent='    """', subsequent_indent="    ")
    out = ["@final", f"class {name}:", doc + '"""']
    if kind:
        out.append(f'    kind: Final[Literal["{kind}"]]')
    out += [f"    {f}: Final[{qualify(t)}]" for f, t in fields]
    for m, t, d, *getter in methods:
        if getter:
            out.append("    @property")
        out.append(f'    def {m}(self) -> {qualify(t)}:\n        """{d}"""')
    return "\n".join(out) + "\n"


def getter_class(text, name):
    """A `#[pyclass]` of getters: (name, None, doc, [], getters) as
    `parse` gives them, the getters as its methods (properties)."""
    m = re.search(r"((?:^///.*\n)+)#\[pyclass[^\n]*\]\npub(?:\(crate\))? struct " + name + r" \{", text, re.M)
    if not m:
        raise ValueError(f"no #[pyclass] struct {name}")
    doc = [line[3:].strip() for line in m.group(1).splitlines()]
    start = text.index(f"#[pymethods]\nimpl {name} {{\n")
    end = text.index("\n}\n", start)
    getters, mdoc, getter = [], [], False
    for line in text[start:end].splitlines()[2:]:
        line = line.strip()
        if line.startswith("///"):
            mdoc.append(line[3:].strip())
        elif line == "#[getter]":
            getter = True
        elif line.startswith("fn "):
            f = re.match(r"fn (\w+)\(&self(?:, py: Python<'_>)?\) -> (.+) \{$", line)
            if getter and f:
                getters.append((f.group(1), python_type(f.group(2)), first_sentence(mdoc), True))
            elif not line.startswith("fn __"):
                raise ValueError(f"{name}: {line!r} is not a getter")
            mdoc, getter = [], False
    return name, None, first_sentence(doc), [], getters


def generated(source):
    """The generated part of the stubs for one source file."""
    with open(os.path.join(PY, source), encoding="utf-8") as f:
        text = f.read()
    classes = [parse(b) for b in blocks(text)]
    classes += [getter_class(text, name) for name in GETTER_CLASSES.get(source, [])]
    return "\n".join(stub(*c) for c in classes)


def render(stubs):
    """`stubs` with every generated part rewritten."""
    for source in SOURCES:
        begin = BEGIN.format(source)
        start = stubs.index(begin) + len(begin) + 1
        end = stubs.index(END, start)
        stubs = stubs[:start] + "\n" + generated(source) + "\n" + stubs[end:]
    return stubs


def ts_type(rust):
    """The declared type of a Rust field type (an `Option` as `| null`)."""
    rust = rust.replace(" ", "")
    if rust in TS_WHOLE:
        return TS_WHOLE[rust]
    if rust in TS_SCALARS:
        return TS_SCALARS[rust]
    m = re.fullmatch(r"Option<(.+)>", rust)
    if m:
        return f"{ts_type(m.group(1))} | null"
    raise ValueError(f"no TypeScript type for the Rust type {rust}")


def ts_fields(source, struct):
    """The properties of the `#[napi(object)]` struct `struct` of
    bindings/node/`source`: each field's doc, camelCase name and type."""
    with open(os.path.join(NODE, source), encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"^#\[napi\(object\)\]\npub struct " + struct + r" \{\n(.*?)^\}", text, re.M | re.S)
    if not m:
        raise ValueError(f"no #[napi(object)] struct {struct} in {source}")
    out, doc = [], []
    for line in m.group(1).splitlines():
        line = line.strip()
        if line.startswith("///"):
            doc.append(line[3:].strip())
            continue
        f = re.fullmatch(r"pub (\w+): (.+),", line)
        if not f:
            raise ValueError(f"{struct}: cannot read the field {line!r}")
        text = " ".join(doc)
        if not text or "*/" in text:
            raise ValueError(f"{struct}.{f.group(1)}: no doc, or one that cannot be a /** */ comment")
        head, *rest = f.group(1).split("_")
        name = head + "".join(w.capitalize() for w in rest)
        out.append(f"  /** {text} */\n  readonly {name}: {ts_type(f.group(2))}\n")
        doc = []
    return "".join(out)


def render_dts(dts):
    """`dts` with every generated interface body rewritten."""
    for source, struct in NODE_INTERFACES.items():
        begin = TS_BEGIN.format(struct, source)
        start = dts.index(begin) + len(begin)
        end = dts.index(TS_END, start)
        dts = dts[:start] + ts_fields(source, struct) + dts[end:]
    return dts


def main():
    targets = [(DTS, render_dts)]
    if "--node" not in sys.argv[1:]:
        targets.insert(0, (STUBS, render))
    for path, rewrite in targets:
        with open(path, encoding="utf-8") as f:
            current = f.read()
        fresh = rewrite(current)
        if "--check" in sys.argv[1:]:
            if fresh != current:
                sys.exit(f"{path} is stale: run python3 scripts/event_stubs.py")
            continue
        with open(path, "w", encoding="utf-8") as f:
            f.write(fresh)


if __name__ == "__main__":
    main()
