"""The stubs' event classes (and CheckReport) are what the extension
module has: the generated part of _rtmfp.pyi is fresh
(scripts/event_stubs.py --check), and each stub class has the runtime
class's fields and kind (CheckReport: its getters)."""

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


def stub_properties(path: str, name: str) -> List[str]:
    """The properties of stub class `name`."""
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == name:
            return [
                item.name
                for item in node.body
                if isinstance(item, ast.FunctionDef)
                and any(ast.unparse(d) == "property" for d in item.decorator_list)
            ]
    raise AssertionError(f"no class {name} in the stubs")


def test_every_getter_class_has_the_runtime_getters() -> None:
    """A class of getters (CheckReport) is generated from its #[pymethods]:
    its stub has a property per runtime getter."""
    spec = importlib.util.spec_from_file_location("event_stubs", GENERATOR)
    assert spec is not None and spec.loader is not None
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    names = [n for classes in generator.GETTER_CLASSES.values() for n in classes]
    assert "CheckReport" in names
    for name in names:
        got = sorted(stub_properties(INSTALLED_STUBS, name))
        assert got == sorted(runtime_fields(getattr(native, name))), name
