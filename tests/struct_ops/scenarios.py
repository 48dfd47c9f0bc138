"""Registration scenarios for ``tcp_congestion_ops`` run against a backend: pybpf, or
the running kernel through the oracle.  Each scenario's answer is an errno (0 for
success) or a fact about the map afterwards, so that the two can be compared and the
kernel's answers kept as test data."""

from __future__ import annotations

import errno
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

K0 = struct.pack("<I", 0)
K1 = struct.pack("<I", 1)


@dataclass
class Layout:
    value_size: int
    data_offset: int
    offsets: dict[str, int]
    index: dict[str, int]


class Backend:
    layout: Layout

    def create(self, **kw: Any) -> Any: ...  # a handle, or -errno
    def load(self, member: int, prog_type: int = 27, ret: int = 0) -> Any: ...
    def update(self, m: Any, key: bytes, value: bytes, flags: int = 0) -> int: ...
    def lookup(self, m: Any, key: bytes) -> tuple[int, bytes | None]: ...
    def delete(self, m: Any, key: bytes) -> int: ...
    def next_key(self, m: Any, key: bytes | None) -> int: ...
    def prog_id(self, p: Any) -> int: ...
    def fd(self, p: Any) -> int: ...


def run_scenarios(b: Backend) -> dict[str, Any]:
    lay = b.layout
    out: dict[str, Any] = {}
    for name, kw in {
        "key_size8": {"key_size": 8}, "max2": {"max_entries": 2}, "vsize": {"value_size": lay.value_size - 8},
        "noid": {"noid": True}, "badid": {"badid": True}, "flags_rdonly": {"flags": 8},
        "flags_link": {"flags": 0x2000}, "nobtf": {"nobtf": True},
    }.items():  # fmt: skip
        r = b.create(**kw)
        out["create_" + name] = r if isinstance(r, int) and r < 0 else 0
    for m in ("name", "owner", "ssthresh"):
        r = b.load(lay.index[m])
        out["load_" + m] = r if isinstance(r, int) and r < 0 else 0
    r = b.load(99)
    out["load_idx99"] = r if isinstance(r, int) and r < 0 else 0
    P = {m: b.load(lay.index[m], ret=2) for m in ("ssthresh", "undo_cwnd", "cong_avoid", "init")}
    sf = b.load(0, prog_type=1)
    off = {k: v + lay.data_offset for k, v in lay.offsets.items()}

    def value(name: bytes = b"pybpf_probe", raw: tuple[int, bytes] | None = None, **progs: Any) -> bytes:
        v = bytearray(lay.value_size)
        v[off["name"] : off["name"] + len(name)] = name
        for mm, p in progs.items():
            struct.pack_into("<Q", v, off[mm], p if isinstance(p, int) else b.fd(p))
        if raw:
            v[raw[0] : raw[0] + len(raw[1])] = raw[1]
        return bytes(v)

    good = {"ssthresh": P["ssthresh"], "undo_cwnd": P["undo_cwnd"], "cong_avoid": P["cong_avoid"]}
    hole = off["key"] - lay.data_offset  # a byte inside ``common``'s padding or past it
    cases: dict[str, tuple[bytes, int]] = {
        "ok": (value(**good), 0),
        "flags1": (value(**good), 1),
        "no_ssthresh": (value(undo_cwnd=P["undo_cwnd"], cong_avoid=P["cong_avoid"]), 0),
        "no_cong_avoid": (value(ssthresh=P["ssthresh"], undo_cwnd=P["undo_cwnd"]), 0),
        "key_nonzero": (value(raw=(off["key"], b"\1"), **good), 0),
        "list_nonzero": (value(raw=(off["list"], b"\1"), **good), 0),
        "owner_nonzero": (value(raw=(off["owner"], b"\1"), **good), 0),
        "tcp_flags_ecn": (value(raw=(off["flags"], b"\2"), **good), 0),
        "tcp_flags_bad": (value(raw=(off["flags"], b"\x20"), **good), 0),
        "state_nonzero": (value(raw=(4, b"\1"), **good), 0),
        "refcnt_nonzero": (value(raw=(0, b"\1"), **good), 0),
        "name_empty": (value(name=b"", **good), 0),
        "name_bad_char": (value(name=b"a-b", **good), 0),
        "name_unterminated": (value(name=b"a" * 16, **good), 0),
        "name_reno": (value(name=b"reno", **good), 0),
        "name_cubic": (value(name=b"cubic", **good), 0),
        "wrong_type": (value(**dict(good, ssthresh=sf)), 0),
        "wrong_member": (value(**dict(good, ssthresh=P["undo_cwnd"])), 0),
        "not_a_prog_fd": (value(**dict(good, init=999)), 0),
        "init_prog": (value(init=P["init"], **good), 0),
    }
    del hole
    for name, (v, fl) in cases.items():
        m = b.create()
        err = b.update(m, K0, v, fl)
        out["update_" + name] = -err
        e, val = b.lookup(m, K0)
        out["after_" + name + "_state"] = struct.unpack_from("<I", val, 4)[0] if val else -e
        if name == "ok":
            m1 = b.create()
            out["update_key1"] = -b.update(m1, K1, v, 0)
            out["update_again"] = -b.update(m, K0, v, 0)
            ids = {mm: struct.unpack_from("<Q", val or b"", off[mm])[0] for mm in good}
            out["lookup_ids_match"] = all(ids[mm] == b.prog_id(good[mm]) for mm in good)
            out["lookup_refcnt"] = struct.unpack_from("<I", val or b"", 0)[0]
            out["lookup_key1"] = -b.lookup(m, K1)[0]
            out["dup_name_other_map"] = -b.update(b.create(), K0, v, 0)
            out["next_key_null"] = -b.next_key(m, None)
            out["next_key_0"] = -b.next_key(m, K0)
            out["delete_key1"] = -b.delete(m, K1)
            e, val = b.lookup(m, K0)
            out["lookup_after_delete_state"] = struct.unpack_from("<I", val, 4)[0] if val else -e
            out["delete_again"] = -b.delete(m, K0)
            out["update_after_delete"] = -b.update(m, K0, v, 0)
            m2 = b.create()
            out["name_free_after_delete"] = -b.update(m2, K0, v, 0)
            b.delete(m2, K0)
        elif err == 0:
            b.delete(m, K0)
        else:
            out["after_fail_zero_" + name] = val == bytes(lay.value_size)
    m = b.create()
    e, val = b.lookup(m, K0)
    out["lookup_init_zero"] = val == bytes(lay.value_size)
    out["delete_init"] = -b.delete(m, K0)
    m = b.create(flags=0x2000)
    out["link_update"] = -b.update(m, K0, value(name=b"pybpf_link", **good), 0)
    e, val = b.lookup(m, K0)
    out["link_state"] = struct.unpack_from("<I", val or bytes(8), 4)[0]
    out["link_delete"] = -b.delete(m, K0)
    return out


def errno_of(fn: Callable[[], Any]) -> Any:
    from pybpf.errors import BpfError

    try:
        return fn()
    except BpfError as exc:
        return -exc.errno


__all__ = ["Backend", "Layout", "errno", "errno_of", "run_scenarios"]
