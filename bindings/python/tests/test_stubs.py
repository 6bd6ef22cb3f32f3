"""The stubs' generated classes are what the extension module has: the
generated part of _rtmfp.pyi is fresh (scripts/event_stubs.py --check),
each event class has the runtime class's fields and kind, and each class
with #[pymethods] (Session, NetStream, CheckReport, ...) its getters and
methods."""

from __future__ import annotations

import ast
import importlib.util
import inspect
import os
from typing import Dict, List, Optional, Tuple

import rtmfp._rtmfp as native

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
GENERATOR = os.path.join(REPO, "scripts", "event_stubs.py")
INSTALLED_STUBS = os.path.join(os.path.dirname(native.__file__), "_rtmfp.pyi")


def final_classes(path: str) -> Dict[str, Tuple[Optional[str], List[str]]]:
    """The stub classes with `Final` attributes: name -> (kind, fields)."""
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    classes: Dict[str, Tuple[Optional[str], List[str]]] = {}
    for node in tree.body:
        if not isinstance(node, ast.ClassDef):
            continue
        kind, fields = None, []
        for item in node.body:
            if not (isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name)):
                continue
            ann = item.annotation
            if not (isinstance(ann, ast.Subscript) and ast.unparse(ann.value) == "Final"):
                continue
            if item.target.id == "kind":
                literal = ann.slice
                assert isinstance(literal, ast.Subscript), ast.unparse(ann)
                kind = ast.literal_eval(literal.slice)
            else:
                fields.append(item.target.id)
        if kind is not None or fields:
            classes[node.name] = (kind, fields)
    return classes


def runtime_fields(cls: type) -> List[str]:
    """The fields of a runtime event class (its getters and members)."""
    return [
        n
        for n, v in vars(cls).items()
        if inspect.isgetsetdescriptor(v) or inspect.ismemberdescriptor(v)
    ]


def test_the_generated_stubs_are_fresh() -> None:
    spec = importlib.util.spec_from_file_location("event_stubs", GENERATOR)
    assert spec is not None and spec.loader is not None
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    with open(generator.STUBS, encoding="utf-8") as f:
        current = f.read()
    assert generator.render(current) == current, "run python3 scripts/event_stubs.py"


def test_every_stub_event_class_has_the_runtime_fields_and_kind() -> None:
    stubs = final_classes(INSTALLED_STUBS)
    assert len(stubs) >= 37
    for name, (kind, fields) in stubs.items():
        cls = getattr(native, name)
        assert getattr(cls, "kind", None) == kind, name
        assert sorted(runtime_fields(cls)) == sorted(fields), name


def test_every_runtime_event_class_is_in_the_stubs() -> None:
    stubs = final_classes(INSTALLED_STUBS)
    events = [
        name
        for name, obj in vars(native).items()
        if inspect.isclass(obj) and isinstance(vars(obj).get("kind"), str)
    ]
    assert len(events) >= 35
    assert sorted(set(events) - set(stubs)) == []


def stub_members(path: str, name: str) -> List[str]:
    """The members (methods and properties) of stub class `name` and of the
    stub classes it derives from, but `__init__`."""
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    classes = {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}
    assert name in classes, f"no class {name} in the stubs"
    node = classes[name]
    names = {item.name for item in node.body if isinstance(item, ast.FunctionDef)}
    for base in node.bases:
        base_name = ast.unparse(base).split("[")[0]
        if base_name in classes:
            names |= set(stub_members(path, base_name))
    return sorted(names - {"__init__"})


def runtime_members(cls: type) -> List[str]:
    """The members of a runtime class from its #[pymethods]: getters,
    methods and the comparison dunders (not `__new__`, `__repr__`...)."""
    return sorted(
        n for n in vars(cls) if not n.startswith("__") or n in ("__eq__", "__hash__")
    )


def test_every_method_class_has_the_runtime_members() -> None:
    """A class with #[pymethods] (Session, NetStream, CheckReport...) is
    generated from them: its stub (with its stub bases) has each runtime
    getter and method, and no other."""
    spec = importlib.util.spec_from_file_location("event_stubs", GENERATOR)
    assert spec is not None and spec.loader is not None
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    names = [n for classes in generator.METHOD_CLASSES.values() for n in classes]
    assert {"CheckReport", "Session", "NetStream", "Server"} <= set(names)
    for name in names:
        got = stub_members(INSTALLED_STUBS, name)
        assert got == runtime_members(getattr(native, name)), name


def stub_exceptions(path: str) -> Dict[str, Tuple[List[str], str]]:
    """The stub classes deriving from an exception: name -> (the names of
    their bases, their docstring on one line)."""
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    out: Dict[str, Tuple[List[str], str]] = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.bases:
            bases = [ast.unparse(b).split(".")[-1] for b in node.bases]
            if bases[0] in ("Exception", "Error") or bases[0].endswith("Error"):
                out[node.name] = (bases, " ".join((ast.get_docstring(node) or "").split()))
    return out


def test_every_exception_class_is_the_runtime_one() -> None:
    """The exception classes are generated from errors.rs: each has the
    runtime class's bases and docstring, and every runtime one is there."""
    stubs = stub_exceptions(INSTALLED_STUBS)
    runtime = {
        name: obj
        for name, obj in vars(native).items()
        if inspect.isclass(obj) and issubclass(obj, BaseException)
    }
    assert sorted(stubs) == sorted(runtime)
    for name, (bases, doc) in stubs.items():
        cls = runtime[name]
        assert bases == [b.__name__ for b in cls.__bases__], name
        assert doc == " ".join((cls.__doc__ or "").split()), name
