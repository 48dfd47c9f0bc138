"""Whatever the BTF, pybpf answers with a result or a BpfError, never a traceback."""

from __future__ import annotations

import contextlib

from hypothesis import example, given, settings
from hypothesis import strategies as st

from pybpf.btf import Btf, encode, parse
from pybpf.btf.dump_c import c_type_name, dump_c
from pybpf.btf.dump_raw import dump_json, dump_raw
from pybpf.btf.resolve import align_of, find_member, resolve_size, skip_modifiers
from pybpf.btf.types import Int, Member, Struct
from pybpf.btf.validate import check
from pybpf.errors import BpfError

from .blobgen import blob
from .strategies import btfs


def _zero_sized_int_member() -> Btf:
    """A struct whose member is a 0-byte int (hypothesis found it: alignment 0)."""
    btf = Btf()
    btf.add(Int(name="z", size=0, bits=0))
    btf.add(Struct(name="s", size=4, members=(Member(name="m", type=1, offset=8),)))
    return btf


@settings(max_examples=60, deadline=None)
@given(btfs(max_types=8))
@example(_zero_sized_int_member())
def test_any_btf_dumps_or_errors(btf: Btf) -> None:
    for fn in (dump_raw, dump_json, dump_c):
        with contextlib.suppress(BpfError):
            fn(btf)
    for type_id in range(len(btf)):
        for q in (resolve_size, align_of, skip_modifiers, c_type_name):
            with contextlib.suppress(BpfError):
                q(btf, type_id)
        with contextlib.suppress(BpfError):
            find_member(btf, type_id, "x")
    with contextlib.suppress(BpfError):
        check(encode(btf))


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 10**6), st.binary(max_size=64))
def test_validator_never_crashes(seed: int, junk: bytes) -> None:
    raw = blob(seed)
    for data in (raw, raw[: len(raw) // 2] + junk, junk):
        with contextlib.suppress(BpfError):
            check(data)
        with contextlib.suppress(BpfError):
            parse(data)


@settings(max_examples=60, deadline=None)
@given(btfs(max_types=8), btfs(max_types=8), st.sampled_from(["0", "0:0", "0:1", "0:0:0", "1:0", "0:2:1"]))
def test_core_relocation_never_crashes(local: Btf, target: Btf, access: str) -> None:
    from pybpf.btf.core import CoreRelocator, CoreTarget
    from pybpf.btf.ext import CoreRelo, CoreReloKind

    r = CoreRelocator(local, CoreTarget(target))
    for type_id in local.ids():
        for kind in CoreReloKind:
            with contextlib.suppress(BpfError):
                r.resolve(CoreRelo(0, type_id, access, kind))
