"""Every host option (core's table, rtmfp_core::host::options) that an
object takes is a keyword of its Python constructor, in the runtime
signature and in the stubs; a few of the transport options at work."""

from __future__ import annotations

import ast
import importlib.util
import inspect
import json
import os
from typing import Any, Callable, Dict, List, Literal, Optional

import pytest

import rtmfp
import rtmfp._rtmfp as native
from conftest import WAIT, wait_event

INSTALLED_STUBS = os.path.join(os.path.dirname(native.__file__), "_rtmfp.pyi")
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
GENERATOR = os.path.join(REPO, "scripts", "option_stubs.py")

CONSTRUCTORS = {
    "endpoint": native.Endpoint,
    "netconnection": native.NetConnection,
    "server": native.Server,
}

# Rows Python expresses in its own way, with what expresses them: a
# keyword (or None: not a constructor keyword, see the reason).
EXPRESSED: Dict[str, Dict[str, Optional[str]]] = {
    "netconnection": {
        # A NetConnection asks per NetStream (NetStream.on_peer_connect,
        # core's per-stream asks), as Node does.
        "peer_connect_mode": None,
    },
    "server": {
        "keys_file": "keys",  # keys="path" or os.PathLike
        "ask_connect": "on_connect",  # asks while the hook is set
        "ask_publish": "on_publish",
        "ask_play": "on_play",
    },
}


def runtime_keywords(cls: type) -> List[str]:
    return runtime_keywords_of(cls)


def runtime_keywords_of(callable: Callable[..., Any]) -> List[str]:
    return [
        p.name
        for p in inspect.signature(callable).parameters.values()
        if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]


def stubs() -> ast.Module:
    with open(INSTALLED_STUBS, encoding="utf-8") as f:
        return ast.parse(f.read())


def stub_keywords(cls_name: str) -> List[str]:
    for node in stubs().body:
        if isinstance(node, ast.ClassDef) and node.name == cls_name:
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name == "__init__":
                    a = item.args
                    return [x.arg for x in a.args[1:] + a.kwonlyargs]
    raise AssertionError(f"no {cls_name}.__init__ in the stubs")


def stub_function_keywords(name: str) -> List[str]:
    for node in stubs().body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return [x.arg for x in node.args.args + node.args.kwonlyargs]
    raise AssertionError(f"no {name} in the stubs")


@pytest.mark.parametrize("obj", sorted(CONSTRUCTORS))
def test_every_row_an_object_takes_is_a_keyword(obj: str) -> None:
    rows = native._option_names(obj)
    assert "bind" in rows and "open_timeout" in rows
    cls = CONSTRUCTORS[obj]
    expressed = EXPRESSED.get(obj, {})
    for keywords, where in (
        (runtime_keywords(cls), "the runtime signature"),
        (stub_keywords(cls.__name__), "the stubs"),
    ):
        missing = [r for r in rows if r not in keywords and r not in expressed]
        assert missing == [], f"{obj}: rows with no keyword in {where}"
        for row, keyword in expressed.items():
            assert row in rows, f"{obj}: {row} is no longer a row it takes"
            assert keyword is None or keyword in keywords, (obj, row, keyword)
        # The public class documents every keyword it takes.
        doc = inspect.getdoc(getattr(rtmfp, cls.__name__)) or ""
        undocumented = [k for k in keywords if f"{k}=" not in doc]
        assert undocumented == [], f"{obj}: keywords not in the docstring's signature"
    assert hasattr(native.NetStream, "on_peer_connect")


def test_check_takes_the_rows_a_net_connection_takes() -> None:
    """rtmfp.check() makes a NetConnection: it takes the rows a
    NetConnection takes (but the per-stream asks), as Node's check does,
    and documents them."""
    rows = [
        r for r in native._option_names("netconnection") if r not in EXPRESSED["netconnection"]
    ]
    assert {"bind", "turn", "max_peer_connections", "direct_timeout"} <= set(rows)
    for keywords in (runtime_keywords_of(native.check), stub_function_keywords("check")):
        assert sorted(set(rows) - set(keywords)) == []
    doc = inspect.getdoc(rtmfp.check) or ""
    assert [k for k in rows if f"``{k}``:" not in doc] == []


def test_check_refuses_the_net_connection_rows_in_core_words() -> None:
    with pytest.raises(
        rtmfp.InvalidArgument, match=r"^max_peer_connections must be from 0 to 65535, got 70000$"
    ):
        rtmfp.check("rtmfp://127.0.0.1:9", max_peer_connections=70000)
    with pytest.raises(rtmfp.InvalidArgument, match=r"^direct_timeout must be >= 0 seconds"):
        rtmfp.check("rtmfp://127.0.0.1:9", direct_timeout=-1)


def table() -> List[Dict[str, Any]]:
    rows: List[Dict[str, Any]] = json.loads(native._option_table())
    return rows


def generator() -> Any:
    spec = importlib.util.spec_from_file_location("option_stubs", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_generated_keywords_are_fresh() -> None:
    """The stubs' keywords of the table's rows are what
    scripts/option_stubs.py writes from this module's table."""
    gen = generator()
    with open(gen.STUBS, encoding="utf-8") as f:
        current = f.read()
    assert gen.render_python(current, table()) == current, "run python3 scripts/option_stubs.py"


def test_a_generated_keyword_is_none_by_default_at_runtime() -> None:
    """The stubs say ``= None`` for every keyword they take from the
    table: not given, core's default applies."""
    gen = generator()
    callables: Dict[str, List[Any]] = {
        "endpoint": [native.Endpoint],
        "netconnection": [native.NetConnection, native.check],
        "server": [native.Server],
    }
    for row in table():
        if row["name"] in gen.PYTHON_BY_HAND:
            continue
        for obj in row["objects"]:
            for c in callables[obj]:
                default = inspect.signature(c).parameters[row["name"]].default
                assert default is None, (c, row["name"], default)


@pytest.mark.parametrize("obj", sorted(CONSTRUCTORS))
def test_the_docstring_documents_each_row_from_the_table(obj: str) -> None:
    doc = " ".join((inspect.getdoc(getattr(rtmfp, CONSTRUCTORS[obj].__name__)) or "").split())
    keywords = runtime_keywords(CONSTRUCTORS[obj])
    for row in table():
        if obj in row["objects"] and row["name"] in keywords:
            assert f"``{row['name']}``: {row['doc']}." in doc, row["name"]
            assert f"default {row['default']}." in doc, row["name"]


def test_option_names_refuses_an_unknown_object() -> None:
    with pytest.raises(rtmfp.InvalidArgument, match="endpoint, netconnection, server"):
        native._option_names("client")


def receive(ep: rtmfp.Endpoint) -> bytes:
    """Accepts the first flow and returns its first message."""
    while True:
        event = wait_event(ep, lambda e: e.kind in ("flow_opened", "message"))
        if isinstance(event, rtmfp.FlowOpened):
            event.flow.accept()
        elif isinstance(event, rtmfp.Message):
            return event.data


def session_keys(path: str) -> List[str]:
    with open(path) as f:
        (line,) = [l for l in f.read().splitlines() if l.startswith("RTMFP_SESSION")]
    return line.split(" ")


@pytest.mark.parametrize("policy", ["required", "off"])
def test_hmac_and_sseq_policies_between_two_endpoints(
    policy: Literal["required", "off"], tmp_path: "os.PathLike[str]"
) -> None:
    """One end's policy against the other's default (opportunistic, which
    negotiates both): "required" connects with both, "off" without; the
    key logs say which (docs/key-log.md)."""
    logs = [os.path.join(tmp_path, n) for n in ("a.keys", "b.keys")]
    with rtmfp.Endpoint(
        "127.0.0.1:0", key_log=logs[0], hmac_policy=policy, sseq_policy=policy
    ) as a, rtmfp.Endpoint("127.0.0.1:0", key_log=logs[1]) as b:
        session = a.connect_peer(b.peer_id, b.address, timeout=WAIT)
        session.open_flow(b"options").send(b"hello")
        assert receive(b) == b"hello"
    for line in map(session_keys, logs):
        # send_hmac, recv_hmac: "LENGTH:KEY" or "-"; send_sseq, recv_sseq.
        if policy == "required":
            assert line[4] != "-" and line[5] != "-", line
            assert line[6:8] == ["1", "1"], line
        else:
            assert line[4:8] == ["-", "-", "0", "0"], line


def test_small_datagrams_carry_a_large_message() -> None:
    data = bytes(range(256)) * 40
    with rtmfp.Endpoint("127.0.0.1:0", max_datagram_size=576) as a, rtmfp.Endpoint(
        "127.0.0.1:0", max_datagram_size=576, send_buffer=1 << 16, event_queue_limit=64
    ) as b:
        session = b.connect_peer(a.peer_id, a.address, timeout=WAIT)
        session.open_flow(b"big").send(data)
        assert receive(a) == data
        # 576-byte datagrams: at least 18 for 10240 bytes (1200: about 9).
        assert b.stats()["datagrams_out"] >= len(data) // 576


def test_a_server_and_a_net_connection_take_the_transport_options() -> None:
    with rtmfp.Server(
        "127.0.0.1:0",
        hostname="rtmfp.test",
        dh_groups=[14, 2],
        hmac_policy="required",
        open_timeout=5,
        idle_timeout=30,
        keepalive_interval=2.5,
        max_datagram_size=1400,
        receive_buffer=1 << 20,
        event_queue_limit=1024,
    ) as server:
        nc = rtmfp.NetConnection.connect(
            f"rtmfp://{server.address}/app",
            bind="127.0.0.1:0",
            timeout=WAIT,
            dh_groups=[2],
            sseq_policy="required",
            max_flows_per_session=8,
        )
        try:
            assert nc.connected
        finally:
            nc.close()


def test_bad_values_raise_core_words() -> None:
    with pytest.raises(rtmfp.InvalidArgument) as info:
        rtmfp.Endpoint("127.0.0.1:0", hmac_policy="sometimes")  # type: ignore[arg-type]
    assert str(info.value) == (
        'hmac_policy must be one of off, opportunistic, required, got "sometimes"'
    )
    with pytest.raises(rtmfp.InvalidArgument, match=r"^max_datagram_size must be from 576 to 65507, got 100$"):
        rtmfp.NetConnection(max_datagram_size=100)
    with pytest.raises(rtmfp.InvalidArgument, match=r"^dh_groups: DH group 3 is not supported"):
        rtmfp.Server("127.0.0.1:0", dh_groups=[2, 3])
    with pytest.raises(rtmfp.InvalidArgument, match=r"^open_timeout must be more than 0"):
        rtmfp.Server("127.0.0.1:0", open_timeout=0)
    with pytest.raises(rtmfp.InvalidArgument, match=r"^event_queue_limit must be from 16 to"):
        rtmfp.Endpoint("127.0.0.1:0", event_queue_limit=1)
    with pytest.raises(rtmfp.InvalidArgument, match=r"^sseq_policy must be one of"):
        rtmfp.check("rtmfp://127.0.0.1:9", sseq_policy="never")  # type: ignore[arg-type]


def test_check_with_transport_options_reaches_a_server() -> None:
    with rtmfp.Server("127.0.0.1:0") as server:
        report = rtmfp.check(
            f"rtmfp://{server.address}/app",
            bind="127.0.0.1:0",
            hmac_policy="required",
            max_datagram_size=576,
            dh_groups=[2],
        )
        assert report.reached, report.error
