"""help() shows something for every public callable, and the asyncio
variants are coroutine functions (issue 15)."""

from __future__ import annotations

import inspect
from typing import List

import rtmfp


def undocumented() -> List[str]:
    missing: List[str] = []
    for name in rtmfp.__all__:
        obj = getattr(rtmfp, name)
        if not inspect.isclass(obj):
            if inspect.isroutine(obj) and not inspect.getdoc(obj):
                missing.append(name)
            continue
        if not inspect.getdoc(obj):
            missing.append(name)
        for member in dir(obj):
            if member.startswith("_"):
                continue
            # What exceptions inherit from the builtins is documented there.
            if issubclass(obj, BaseException) and hasattr(BaseException, member):
                continue
            if member == "characters_written":
                continue
            attr = inspect.getattr_static(obj, member)
            if isinstance(attr, (int, float, str, bytes)):
                continue
            doc = getattr(attr, "__doc__", None)
            if not doc or not doc.strip():
                missing.append(f"{name}.{member}")
    return missing


def test_every_public_callable_has_a_docstring() -> None:
    assert undocumented() == []


def test_connect_shows_its_text_and_the_async_forms_are_coroutines() -> None:
    doc = inspect.getdoc(rtmfp.NetConnection.connect) or ""
    assert "rtmfp://" in doc and "ConnectError" in doc
    assert rtmfp.NetConnection.connect.__qualname__ == "NetConnection.connect"
    assert inspect.iscoroutinefunction(rtmfp.NetConnection.connect_async)
    nc = rtmfp.NetConnection()
    try:
        assert inspect.iscoroutinefunction(nc.connect_async)
        assert inspect.getdoc(nc.connect)
    finally:
        nc.close()
