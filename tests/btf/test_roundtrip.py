"""parse and encode are inverse: on random BTF, both byte orders, base and split."""

from __future__ import annotations

import contextlib
import errno

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pybpf.btf import Btf, Int, Member, Ptr, Struct, encode, parse
from pybpf.errors import BpfError

from .strategies import btfs


def own_types(btf: Btf) -> list[object]:
    return list(btf)


@settings(max_examples=100, deadline=None)
@given(btfs(), st.sampled_from(["little", "big"]))
def test_encode_parse_encode_is_identity(btf: Btf, order: str) -> None:
    raw = encode(btf, byte_order=order)
    back = parse(raw)
    assert back.byte_order == order
    assert own_types(back) == own_types(btf)
    assert encode(back) == raw


@settings(max_examples=50, deadline=None)
@given(st.data())
def test_split_roundtrip(data: st.DataObject) -> None:
    base = parse(encode(data.draw(btfs())))
    split = data.draw(btfs(base=base))
    raw = encode(split)
    back = parse(raw, base=base)
    assert back.start_id == len(base)
    assert own_types(back) == own_types(split)
    assert encode(back) == raw


def test_split_reuses_base_strings() -> None:
    base = Btf()
    int_id = base.add(Int(name="int", size=4, bits=32, encoding=1))
    base = parse(encode(base))
    split = Btf(base=base)
    sid = split.add(Struct(name="s", size=4, members=(Member(name="int", type=int_id, offset=0),)))
    raw = encode(split)
    back = parse(raw, base=base)
    assert back[sid] == split[sid] and back[int_id].name == "int"
    assert back.strings.data == b"s\0"  # "int" came from the base table
    assert back.find_by_name("int") == [int_id]


def test_lazy_equals_eager() -> None:
    b = Btf()
    i = b.add(Int(name="int", size=4, bits=32, encoding=1))
    b.add(Ptr(type=i))
    raw = encode(b)
    lazy = parse(raw, lazy=True)
    assert lazy.kind(2).name == "PTR"
    assert list(lazy) == list(parse(raw))


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "BTF header not found"),
        (b"\x00" * 24, "Invalid BTF magic: 0"),
        (bytes.fromhex("9feb010018000000000000000800000004000000010000") + bytes(9), "Invalid BTF data sections layout: type data at 0 + 8, strings data at 4 + 1"),
        (bytes.fromhex("9feb01001800000000000000000000000000000002000000"), "Invalid BTF total size: 24"),
    ],
)  # fmt: skip
def test_structural_errors(raw: bytes, message: str) -> None:
    with pytest.raises(BpfError) as exc:
        parse(raw)
    assert exc.value.errno == errno.EINVAL and exc.value.message == message


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=200), st.data())
def test_garbage_never_crashes(junk: bytes, data: st.DataObject) -> None:
    """Random blobs and random corruptions of valid ones: BpfError or a Btf, never a crash."""
    good = encode(data.draw(btfs(max_types=5)))
    pos = data.draw(st.integers(0, len(good) - 1))
    corrupt = good[:pos] + bytes([data.draw(st.integers(0, 255))]) + good[pos + 1 :]
    for blob in (junk, corrupt, good[: data.draw(st.integers(0, len(good)))]):
        with contextlib.suppress(BpfError):
            parse(blob)
