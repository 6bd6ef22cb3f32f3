"""The server's per-client limits (``max_streams_per_client``,
``max_names_per_client``, ``max_flows_per_session``): a client's calls
beyond them get ``_error``, and values out of range are refused at
start."""

from __future__ import annotations

import pytest

import rtmfp


def test_calls_beyond_low_limits_are_refused() -> None:
    with rtmfp.Server(
        "127.0.0.1:0",
        max_streams_per_client=2,
        max_names_per_client=1,
        max_flows_per_session=64,
    ) as server:
        nc = rtmfp.NetConnection.connect(f"rtmfp://{server.address}/app/k", bind="127.0.0.1:0")
        try:
            nc.call("createStream")
            nc.call("createStream")
            with pytest.raises(rtmfp.CallError) as info:
                nc.call("createStream")
            assert info.value.code == "NetConnection.Call.Failed"
            assert "too many streams: at most 2" in info.value.description
            nc.register_name("first")
            with pytest.raises(rtmfp.CallError) as info:
                nc.register_name("second")
            assert "too many names: at most 1" in info.value.description
            # The connection still works.
            assert nc.lookup_name("first") == nc.near_id
        finally:
            nc.close()


@pytest.mark.parametrize(
    "option, value",
    [
        ("max_streams_per_client", 0),
        ("max_names_per_client", -1),
        ("max_flows_per_session", 65536),
    ],
)
def test_values_out_of_range_are_refused_at_start(option: str, value: int) -> None:
    with pytest.raises(rtmfp.InvalidArgument) as info:
        rtmfp.Server("127.0.0.1:0", **{option: value})  # type: ignore[arg-type]
    assert str(info.value) == f"{option} must be from 1 to 65535, got {value}"
