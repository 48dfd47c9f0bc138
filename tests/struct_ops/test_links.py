"""Struct_ops links: a BPF_F_LINK map is READY after its update, registered by a link,
swapped by a link update, unregistered when the link goes."""

from __future__ import annotations

import struct

import pytest

from pybpf.errors import BpfError
from pybpf.isa import assemble
from pybpf.kernel.state import Kernel
from pybpf.maps.struct_ops import BPF_F_LINK, StructOpsState
from pybpf.struct_ops import create_map, load_struct_ops_program, ops_type
from pybpf.struct_ops.link import StructOpsLink
from pybpf.struct_ops.tcp_ca import tcp_congestion_controls


def _ready_map(k: Kernel, name: bytes, ret: int) -> object:
    t = ops_type("tcp_congestion_ops")
    lay = t.layout
    off = {m.name: lay.data_offset + m.offset for m in lay.members}
    v = bytearray(lay.value_size)
    v[off["name"] : off["name"] + len(name)] = name
    for member in ("ssthresh", "undo_cwnd", "cong_avoid"):
        p = load_struct_ops_program(assemble(f"r0 = {ret}\nexit"), t, member, kernel=k)
        struct.pack_into("<Q", v, off[member], p.fd)
    m = create_map("tcp_congestion_ops", kernel=k, flags=BPF_F_LINK)
    m.update(0, bytes(v))
    return m


def test_link_lifecycle() -> None:
    k = Kernel(seed=0)
    a = _ready_map(k, b"cc_link", 2)
    b = _ready_map(k, b"cc_link", 3)
    assert a.state == StructOpsState.READY  # type: ignore[attr-defined]
    assert tcp_congestion_controls(k).registered == {}  # READY is not registered
    link = StructOpsLink(a)  # type: ignore[arg-type]
    assert tcp_congestion_controls(k).find("cc_link") is a.kops  # type: ignore[attr-defined]
    link.update(b)  # type: ignore[arg-type]
    assert tcp_congestion_controls(k).find("cc_link") is b.kops  # type: ignore[attr-defined]
    with pytest.raises(BpfError) as e:
        link.update(a, old=a)  # type: ignore[arg-type]
    assert e.value.errno == 1  # EPERM: a is no longer the link's map
    other = _ready_map(k, b"other_name", 2)
    with pytest.raises(BpfError):
        link.update(other)  # type: ignore[arg-type]  # a link keeps its name
    link.detach()
    assert tcp_congestion_controls(k).registered == {}
    with pytest.raises(BpfError) as e:
        link.update(a)  # type: ignore[arg-type]
    assert e.value.errno == 67  # ENOLINK


def test_link_needs_a_ready_link_map() -> None:
    k = Kernel(seed=0)
    m = create_map("tcp_congestion_ops", kernel=k, flags=BPF_F_LINK)
    with pytest.raises(BpfError) as e:
        StructOpsLink(m)
    assert e.value.errno == 22
