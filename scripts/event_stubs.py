#!/usr/bin/env python3
"""Writes the classes of the Python stubs from their Rust declarations.

Each Python event (and record) class is declared once, by `event_class!` in
bindings/python/src/events.rs and flash_events.rs: its doc, kind, and each
field with its Rust type and, for a word, the words it can be
(`role: String = "initiator" | "responder"`).  This script turns those
declarations into the classes of bindings/python/python/rtmfp/_rtmfp.pyi,
between the markers that name each source file: a `@final` class with
the doc's first sentence and one read-only (`Final`) attribute per field.

The classes with methods (METHOD_CLASSES: Session, Flow, RecvFlow,
Endpoint, NetConnection, NetStream, Server, CheckReport) are written from
their `#[pyclass]` and `#[pymethods]`: the class's doc (first sentence;
`@final` unless it is a `subclass`), a property per `#[getter]` (with its
`#[setter]`), `__init__` from `#[new]`, a method per other fn, each with
the first paragraph of its doc.  Parameter names, defaults and `*` come
from `#[pyo3(signature = (...))]` (a constant default is looked up in the
Rust source), else from the Rust parameters; types from the Rust types
(`python_type`), or from OVERRIDES where Rust cannot say them (what a
`&Bound<PyAny>` takes, a Literal's words).  A class's stub bases (BASES:
the generic event streams, written by hand) declare the event methods,
which are not restated; an `__init__`'s options block is left to
scripts/option_stubs.py, which writes it from core's table (run it first
when an option is added).  The exception classes are written from the
`new_class` calls of errors.rs: name, bases and the whole doc.

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
SOURCES = [
    "src/session.rs", "src/events.rs", "src/endpoint.rs", "src/netconnection.rs",
    "src/flash_events.rs", "src/server.rs", "src/check.rs", "src/errors.rs",
]
BEGIN = "# <generated from bindings/python/{} by scripts/event_stubs.py: do not edit>"
END = "# </generated>"

# Rust field types as Python sees them (convert.rs, events.rs).
SCALARS = {
    "String": "str", "bool": "bool", "f64": "float",
    "u8": "int", "u16": "int", "u32": "int", "u64": "int", "usize": "int",
    "i32": "int", "i64": "int", "MessageId": "int", "()": "None",
    "AddrList": "_Addresses",
    # The extension's names for what a `&Bound<PyAny>` argument takes
    # (convert.rs), and for a `*args` tuple of AMF values (the type of each).
    "BytesLike": "_BytesLike", "PeerIdArg": "Union[str, bytes]", "AmfArgs": "_Amf",
    "Py<PyBytes>": "bytes", "Py<PyDict>": "Dict[str, Any]",
    "Py<PyList>": "List[Any]", "Py<PyAny>": "Any",
}
WRAPPERS = {"Option": "Optional", "Vec": "List"}
BUILTINS = {"str", "bool", "float", "int", "bytes"}

# `#[pyclass]`es whose `#[pymethods]` the stubs restate, by source file:
# each becomes one class with a property per getter (and setter), a
# method per method, `__init__` from `#[new]`.
METHOD_CLASSES = {
    "src/check.rs": ["CheckReport"],
    "src/session.rs": ["Session", "Flow", "RecvFlow"],
    "src/endpoint.rs": ["Endpoint"],
    "src/netconnection.rs": ["NetConnection", "NetStream"],
    "src/server.rs": ["Server"],
}
# Sources of classes that are neither: the exceptions.
EXCEPTION_SOURCES = ["src/errors.rs"]
# The base classes of a stub class, where the stubs type what Rust cannot
# say (the generic event streams, written by hand outside the markers).
# A member that a base declares is not restated.
BASES = {
    "Endpoint": "_EventStream[_Event, EventIterator]",
    "NetConnection": "_LayerStream[_NetEvent, NetEventIterator]",
    "Server": "_LayerStream[_ServerEvent, ServerEventIterator]",
}
# Types Rust cannot say: a parameter (CLASS.METHOD.PARAM; for `*args`, the
# type of each) taken as a `&Bound<PyAny>` or a `Py<PyAny>`, a word's
# Literal, a list of pyclasses built by hand; a property (CLASS.NAME) is
# typed once, for its getter, its setter and the `__init__` parameter of
# its name.
OVERRIDES = {
    "Session.role": 'Optional[Literal["initiator", "responder"]]',
    "RecvFlow.accept.order": 'Literal["sequence", "network"]',
    "NetConnection.__init__.args": "Optional[Sequence[_Amf]]",
    "NetStream.kind": 'Literal["server", "direct_connections", "peer"]',
    "NetStream.on_peer_connect": "Optional[Callable[[str, str], _Verdict]]",
    "Server.__init__.keys": 'Union[None, Sequence[str], str, "os.PathLike[str]"]',
    "Server.on_connect": "Optional[_ConnectHook]",
    "Server.on_publish": "Optional[_StreamHook]",
    "Server.on_play": "Optional[_StreamHook]",
    "Server.on_disconnect": "Optional[_DisconnectHook]",
    "Server.sessions": "List[ServerSession]",
    "Server.streams": "List[ServerStream]",
    "Server.stats": "Dict[str, int]",
    "Server.disconnect.client": "Union[int, str, bytes]",
}
# The exception classes errors.rs makes with `new_class` (and adds to the
# module in `register`'s order): the Python base classes of pyo3's
# built-in exception types, and the attributes `with_status` sets.
PY_EXCEPTIONS = {
    "PyException": "Exception", "PyTimeoutError": "builtins.TimeoutError",
    "PyValueError": "ValueError", "PyBlockingIOError": "BlockingIOError",
}
EXCEPTION_ATTRIBUTES = {
    "ConnectError": ["code", "level", "description"],
    "CallError": ["code", "level", "description"],
}
# Dunders `object` already declares with the same types.
OBJECT_DUNDERS = {"__repr__", "__str__"}
# Dunders of the garbage collector, not of the Python API.
GC_DUNDERS = {"__traverse__", "__clear__"}
OPTIONS_BEGIN = "# <options of {} from core's table by scripts/option_stubs.py: do not edit>"
OPTIONS_END = "# </options>"
# Where a constant default (`timeout = DEFAULT_CLOSE_TIMEOUT`) is declared:
# a bare name in the extension, a path in its crate.
CRATES = {"rtmfp_core": os.path.join(ROOT, "rtmfp-core", "src")}


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
    """The stub type of a Rust type (a Literal for a word)."""
    rust = re.sub(r"'\w+,\s*", "", rust)  # Bound<'py, PyBytes>
    rust = re.sub(r"<'\w+>", "", rust)  # BytesLike<'_>
    rust = re.sub(r"&'\w+\s*", "&", rust).replace(" ", "").replace("&str", "String")
    # A Python object, borrowed or owned, is its class.
    rust = re.sub(r"^&?(?:Bound|PyRef)<", "Py<", rust)
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


def split_top(text, sep=","):
    """`text` split at each `sep` outside brackets, the parts stripped
    (empty ones dropped)."""
    parts, depth, start = [], 0, 0
    for i, c in enumerate(text):
        depth += {"(": 1, "[": 1, "<": 1, ")": -1, "]": -1, ">": -1}.get(c, 0)
        if c == sep and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


def rust_constant(path):
    """The literal value of the Rust constant `path` (a bare name in the
    extension's src/, or `crate::module::NAME`)."""
    *module, name = path.split("::")
    if module:
        base = os.path.join(CRATES[module[0]], *module[1:])
        files = [base + ".rs", os.path.join(base, "mod.rs")]
    else:
        src = os.path.join(PY, "src")
        files = [os.path.join(src, f) for f in sorted(os.listdir(src))]
    for file in files:
        if os.path.exists(file):
            with open(file, encoding="utf-8") as f:
                m = re.search(r"\bconst " + name + r": \w+ = ([^;]+);", f.read())
            if m:
                return python_default(m.group(1))
    raise ValueError(f"no constant {path}")


def python_default(rust):
    """A `#[pyo3(signature)]` default as Python writes it."""
    rust = rust.strip()
    words = {"None": "None", "true": "True", "false": "False"}
    if rust in words:
        return words[rust]
    if re.fullmatch(r'-?\d[\d_]*(\.\d+)?|"[^"\\]*"', rust):
        return rust.replace("_", "")
    m = re.fullmatch(r"Some\((.+)\)", rust)
    if m:
        return python_default(m.group(1))
    m = re.fullmatch(r"\((.+)\)", rust)
    if m:
        return "(" + ", ".join(python_default(p) for p in split_top(m.group(1))) + ")"
    if re.fullmatch(r"[\w:]+", rust):
        return rust_constant(rust)
    raise ValueError(f"no Python value for the default {rust}")


def rust_fn(header):
    """A `fn` header (one line): (name, [(param, Rust type)], Rust return
    type), without the receiver, `slf` and `py`."""
    m = re.fullmatch(r"fn (\w+)(?:<[^(]*>)?\((.*)\)(?: -> (.+))? \{", header)
    if not m:
        raise ValueError(f"cannot read the fn header {header!r}")
    params = []
    for p in split_top(m.group(2)):
        if p in ("&self", "self") or p.startswith(("slf:", "py:")):
            continue
        name, rust = p.split(":", 1)
        params.append((name.strip(), rust.strip()))
    return m.group(1), params, m.group(3) or "()"


def pymethods(text, name):
    """The members of `impl name` under `#[pymethods]`: one
    (attributes, doc lines, fn header on one line) per fn, in order."""
    m = re.search(r"^#\[pymethods\]\nimpl " + name + r" \{\n", text, re.M)
    if not m:
        raise ValueError(f"no #[pymethods] impl {name}")
    members, attrs, doc, pending, header, depth = [], [], [], "", "", 0
    for line in text[m.end():].splitlines():
        line = line.strip()
        if depth > 0:  # inside a fn body
            depth += line.count("{") - line.count("}")
        elif header:  # a header over several lines
            header += line if header.endswith("(") else " " + line
        elif line == "}":
            return members
        elif pending or line.startswith("#["):  # maybe over several lines
            pending += line
            if pending.count("[") == pending.count("]"):
                attrs.append(pending)
                pending = ""
        elif line.startswith("///"):
            doc.append(line[3:].strip())
        elif line.startswith("fn "):
            header = line
        if header and header.endswith("{") and header.count("(") == header.count(")"):
            members.append((attrs, doc, header))
            attrs, doc, header, depth = [], [], "", 1
    raise ValueError(f"impl {name} does not end")


def pyclass_head(text, name):
    """The doc lines and `#[pyclass(...)]` arguments of the class `name`,
    declared as a struct or by a macro (`flow_class! { /// doc  Name }`)."""
    doc = r"((?:^ *///.*\n)+)"
    m = re.search(doc + r"#\[pyclass\((.*)\)\]\npub(?:\(crate\))? struct " + name + r"\b", text, re.M)
    if m:
        return [l.strip()[3:].strip() for l in m.group(1).splitlines()], m.group(2)
    m = re.search(r"^(\w+)! \{\n" + doc + r" *" + name + r"\n\}", text, re.M)
    if m:
        macro = text.index(f"macro_rules! {m.group(1)} {{")
        args = re.compile(r"#\[pyclass\((.*)\)\]").search(text, macro)
        return [l.strip()[3:].strip() for l in m.group(2).splitlines()], args.group(1)
    raise ValueError(f"no #[pyclass] {name}")


def first_paragraph(doc):
    """The first paragraph of a doc comment's lines, one string."""
    end = doc.index("") if "" in doc else len(doc)
    return re.sub("`+", "``", " ".join(doc[:end]))


def docstring(text, indent, width=79):
    """`text` as a docstring at `indent`, wrapped at `width` columns."""
    if '"""' in text or "\\" in text or text.endswith('"'):
        raise ValueError(f"the doc cannot be a plain docstring: {text!r}")
    lead = " " * indent
    return textwrap.fill(
        text, width, initial_indent=lead + '"""', subsequent_indent=lead, break_on_hyphens=False
    ) + '"""'


def signature(attrs, params):
    """The Python parameters of a method: (name, Rust type, default or
    None, prefix "" / "*") in order, with "*" alone for the keyword-only
    marker; from `#[pyo3(signature = (...))]` when there is one."""
    sig = next((a for a in attrs if a.startswith("#[pyo3(signature")), None)
    if sig is None:
        return [(p, rust, None, "") for p, rust in params]
    inner = re.fullmatch(r"#\[pyo3\(signature = \((.*)\)\)\]", sig).group(1)
    types = dict(params)
    out = []
    for item in split_top(inner):
        if item == "*":
            out.append(("*", None, None, ""))
            continue
        p, _, default = (s.strip() for s in item.partition("="))
        star = "*" if p.startswith("*") else ""
        p = p.lstrip("*")
        out.append((p, types[p], python_default(default) if default else None, star))
    if sorted(p for p, _, _, _ in out if p != "*") != sorted(types):
        raise ValueError(f"the signature {inner!r} does not name the parameters {sorted(types)}")
    return out


def param_type(key, rust):
    """The stub type of the parameter or property `key` (CLASS.METHOD.PARAM
    or CLASS.PROPERTY) of Rust type `rust`."""
    if key in OVERRIDES:
        return OVERRIDES[key]
    cls, _, rest = key.partition(".")
    if rest.startswith("__init__.") and f"{cls}.{rest[9:]}" in OVERRIDES:
        return OVERRIDES[f"{cls}.{rest[9:]}"]  # what the property of that name takes
    if key.endswith("__eq__.other"):
        return "object"
    t = python_type(rust)
    if key.count(".") == 2 and "Any" in t:
        raise ValueError(f"{key}: what does the {rust} take? (OVERRIDES)")
    return t


def def_line(name, params, returns, doc, indent=4):
    """A `def` of the stubs: on one line if it fits, else a parameter a
    line; `params` are Python texts (an options block as it stands)."""
    lead = " " * indent
    line = f"{lead}def {name}({', '.join(params)}) -> {returns}:"
    if len(line) > 88 or any("\n" in p for p in params):
        inner = lead + "    "
        body = "".join(p + "\n" if "\n" in p else f"{inner}{p},\n" for p in params)
        line = f"{lead}def {name}(\n{body}{lead}) -> {returns}:"
    if doc:
        return line + "\n" + docstring(doc, indent + 4)
    return line + " ..."


def options_block(stubs, cls):
    """The options block (`# <options of ...>` to `# </options>`) of the
    `__init__` of `cls` as the stubs hold it (scripts/option_stubs.py
    writes its lines), and the option names in it; None if it has none."""
    at = re.search(r"^class " + cls + r"\b", stubs, re.M)
    begin = OPTIONS_BEGIN.format(cls.lower())
    start = stubs.find(begin, at.end() if at else 0)
    next_class = re.compile(r"^class ", re.M).search(stubs, at.end()) if at else None
    if not at or start < 0 or (next_class and start > next_class.start()):
        return None, set()
    end = stubs.index(OPTIONS_END, start) + len(OPTIONS_END)
    lines = stubs[stubs.rindex("\n", 0, start) + 1 : end]
    return lines, set(re.findall(r"^ *(\w+):", lines, re.M))


def base_members(stubs, bases):
    """The members that the stub classes named in `bases` (and their own
    bases) declare."""
    names = set()
    for base in re.findall(r"\b(_\w+)\[", bases):
        m = re.search(r"^class " + base + r"\((.*)\):\n((?:\n|    .*\n)*)", stubs, re.M)
        if not m:
            raise ValueError(f"no stub class {base}")
        names |= set(re.findall(r"^    def (\w+)", m.group(2), re.M))
        names |= base_members(stubs, m.group(1))
    return names


def method_class(text, name, stubs):
    """The stub text of the `#[pyclass]` `name` from its `#[pymethods]`."""
    doc, args = pyclass_head(text, name)
    bases = BASES.get(name)
    inherited = base_members(stubs, bases) if bases else set()
    out = [] if "subclass" in args else ["@final"]
    out.append(f"class {name}({bases}):" if bases else f"class {name}:")
    out.append(docstring(first_sentence(doc), 4, 72))
    for attrs, mdoc, header in pymethods(text, name):
        out += member(name, attrs, first_paragraph(mdoc), rust_fn(header), inherited, stubs)
    return "\n".join(out) + "\n"


def member(cls, attrs, doc, fn, inherited, stubs):
    """The stub lines of one fn of `#[pymethods]` (none for a member a
    stub base declares, or a dunder the stubs leave out)."""
    name, params, returns = fn
    if "#[getter]" in attrs or "#[setter]" in attrs:
        prop = re.sub(r"^[gs]et_", "", name)  # pyo3's name for get_x / set_x
        if prop in inherited:
            return []
        if "#[getter]" in attrs:
            return ["    @property", def_line(prop, ["self"], param_type(f"{cls}.{prop}", returns), doc)]
        [(param, rust)] = params
        typed = f"{param}: {param_type(f'{cls}.{prop}', rust)}"
        return [f"    @{prop}.setter", def_line(prop, ["self", typed], "None", doc)]
    if name in GC_DUNDERS | OBJECT_DUNDERS or name in inherited:
        return []
    if "#[new]" in attrs:
        return [def_line("__init__", python_params(cls, "__init__", attrs, params, stubs), "None", doc)]
    returns = param_type(f"{cls}.{name}", returns)
    return [def_line(name, python_params(cls, name, attrs, params, stubs), returns, doc)]


def python_params(cls, fn, attrs, params, stubs):
    """The Python parameters of `cls.fn`, with `self`; an `__init__`'s
    options (core's table) as the options block of the stubs."""
    block, options = options_block(stubs, cls) if fn == "__init__" else (None, set())
    missing = options - {p for p, _ in params}
    if missing:
        raise ValueError(f"{cls}.{fn} does not take the options {sorted(missing)}")
    out = ["self"]
    for p, rust, default, star in signature(attrs, params):
        if p in options:
            continue
        if p == "*":
            out.append("*")
            continue
        text = f"{star}{p}: {param_type(f'{cls}.{fn}.{p}', rust)}"
        out.append(text + (f" = {default}" if default is not None else ""))
    if block:
        out.append(block)
    return out


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
    for m, t, d in methods:
        out.append(f'    def {m}(self) -> {qualify(t)}:\n        """{d}"""')
    return "\n".join(out) + "\n"


def rust_string(literal):
    """The text of a Rust string literal (its pieces joined by `\\`
    line continuations)."""
    body = re.sub(r"\\\n\s*", "", literal.strip()[1:-1])
    return re.sub(r"\\(.)", r"\1", body)


def exception_classes(text):
    """The stub text of the exception classes that `types()` makes with
    `new_class(py, NAME, BASES, DOC)`, in the order `register` adds them."""
    made, variables = {}, {}
    string = r'(?:"(?:[^"\\]|\\.)*"\s*)+'  # a literal, maybe over several lines
    call = r'(?:let (\w+) = |\w+: )?new_class\(\s*py,\s*"(\w+)",\s*(.+?),\s*(' + string + r"),?\s*\)"
    for var, name, bases, doc in re.findall(call, text, re.S):
        made[name] = (bases, rust_string(doc))
        if var:
            variables[var] = name
    for alias, var in re.findall(r"let (\w+) = (\w+)\.bind\(py\)\.clone\(\);", text):
        variables[alias] = variables[var]
    order = re.search(r"for \(name, ty\) in \[(.*?)\]", text, re.S).group(1)
    out = []
    for name in re.findall(r'\("(\w+)",', order):
        bases, doc = made[name]
        python_bases = ", ".join(exception_bases(bases, variables))
        lines = [f"class {name}({python_bases}):", docstring(doc, 4, 72)]
        lines += [f"    {a}: str" for a in EXCEPTION_ATTRIBUTES.get(name, [])]
        out.append("\n".join(lines) + "\n")
    return "\n".join(out)


def exception_bases(rust, variables):
    """The Python classes of a `new_class` bases slice
    (`std::slice::from_ref(&e)` or `&[e.clone(), py.get_type::<PyX>()]`):
    a class made before (`variables`: its Rust variable), or a built-in
    exception."""
    items = re.sub(r"^std::slice::from_ref\((.*)\)$|^&\[(.*)\]$", r"\1\2", rust)
    out = []
    for item in split_top(items):
        m = re.fullmatch(r"py\.get_type::<(\w+)>\(\)", item)
        out.append(PY_EXCEPTIONS[m.group(1)] if m else variables[re.match(r"&?(\w+)", item).group(1)])
    return out


def generated(source, stubs):
    """The generated part of the stubs for one source file (`stubs`, as
    they stand, give the options blocks and the base classes)."""
    with open(os.path.join(PY, source), encoding="utf-8") as f:
        text = f.read()
    classes = [stub(*parse(b)) for b in blocks(text)]
    classes += [method_class(text, name, stubs) for name in METHOD_CLASSES.get(source, [])]
    if source in EXCEPTION_SOURCES:
        classes.append(exception_classes(text))
    return "\n".join(classes)


def render(stubs):
    """`stubs` with every generated part rewritten."""
    for source in SOURCES:
        begin = BEGIN.format(source)
        start = stubs.index(begin) + len(begin) + 1
        end = stubs.index(END, start)
        stubs = stubs[:start] + "\n" + generated(source, stubs) + "\n" + stubs[end:]
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
                sys.exit(
                    f"{path} is stale: run python3 scripts/option_stubs.py, "
                    "then python3 scripts/event_stubs.py"
                )
            continue
        with open(path, "w", encoding="utf-8") as f:
            f.write(fresh)


if __name__ == "__main__":
    main()
