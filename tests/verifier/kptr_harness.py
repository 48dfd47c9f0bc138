"""Cases for typed kernel pointers, kfuncs and kptrs, run by pybpf and by the kernel.

A case is a program template plus maps.  The template names what differs between
pybpf's kernel and the running one symbolically: ``{kf:bpf_task_acquire}`` is a kfunc's
BTF id, ``{off:task_struct.pid}`` a member's offset.  Each side fills them from its own
kernel BTF, so the same case means the same program to both.  Messages are compared with
numbers masked (offsets and ids are each kernel's own).

Maps are :class:`MapDef`: a value of 8-byte slots, each ``u64`` or a kptr
(``kptr:task_struct``, ``kptr_untrusted:prog_test_ref_kfunc``), described by a small
program BTF that both sides load.

Kernel answers are recorded in ``tests/data/verifier/<file>.json`` by running this module
as a script where bpf() works (``python -m tests.verifier.kptr_harness``), so the
comparison also runs without a kernel.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pybpf.btf import Btf, Int, Kind, Member, Ptr, Struct, TypeTag, encode, find_member
from pybpf.isa.asm_c import assemble_c
from pybpf.kernel.progtypes import ProgType, prog_type_from_name
from pybpf.maps.types import MapType

DATA = Path(__file__).resolve().parent.parent / "data" / "verifier"


@dataclass(frozen=True)
class MapDef:
    type: MapType
    slots: tuple[str, ...] = ("u64",)
    key_size: int = 4
    max_entries: int = 4
    flags: int = 0
    with_btf: bool = True


@dataclass(frozen=True)
class Case:
    name: str
    prog_type: str
    text: str
    maps: tuple[MapDef, ...] = ()
    gpl: bool = True
    privileged: bool = True
    meta: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Answer:
    accepted: bool
    errno: int
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"accepted": self.accepted, "errno": self.errno, "message": self.message}


def mask(message: str) -> str:
    """A message with numbers and addresses masked (each kernel has its own layouts)."""
    return re.sub(r"0x[0-9a-f]+|\d+", "N", message)


# --- program BTF for map values ------------------------------------------------------------


def value_btf(slots: Sequence[str]) -> tuple[Btf, int, int]:
    """(BTF, key type id, value type id) of a value of 8-byte slots."""
    btf = Btf()
    u32 = btf.add(Int(name="unsigned int", size=4, bits=32))
    u64 = btf.add(Int(name="unsigned long long", size=8, bits=64))
    members = []
    targets: dict[str, int] = {}
    for i, slot in enumerate(slots):
        if slot == "u64":
            tid = u64
        else:
            tag, target = slot.split(":")
            if target not in targets:
                targets[target] = btf.add(Struct(name=target, size=0))
            tt = btf.add(TypeTag(name=tag, type=targets[target]))
            tid = btf.add(Ptr(type=tt))
        members.append(Member(name=f"f{i}", type=tid, offset=64 * i))
    val = btf.add(Struct(name="map_value", size=8 * len(slots), members=tuple(members)))
    return btf, u32, val


# --- the two sides' symbols ---------------------------------------------------------------


def _resolve(text: str, btf: Btf) -> str:
    def sub(m: re.Match[str]) -> str:
        kind, what = m.group(1), m.group(2)
        if kind == "kf":
            fid = btf.find_by_name_kind(what, Kind.FUNC)
            return str(fid if fid is not None else 0x7FFFFFF)
        struct, path = what.split(".", 1)
        sid = btf.find_by_name_kind(struct, Kind.STRUCT)
        assert sid is not None, struct
        off = 0
        tid = sid
        for part in path.split("."):
            ref = find_member(btf, tid, part)
            assert ref is not None, what
            off += ref.bit_offset // 8
            tid = ref.member.type
        return str(off)

    return re.sub(r"\{(kf|off):([\w.]+)\}", sub, text)


def pybpf_answer(case: Case) -> Answer:
    from pybpf.kernel.vmlinux import kernel_btf
    from pybpf.maps import MapSpec, create_map, describe_map_btf
    from pybpf.verifier import Options, verify

    maps = []
    for md in case.maps:
        vsize = 8 * len(md.slots)
        mbtf = None
        if md.with_btf:
            btf, kid, vid = value_btf(md.slots)
            mbtf = describe_map_btf(btf, kid, vid)
        maps.append(
            create_map(
                MapSpec(md.type, md.key_size, vsize, md.max_entries, md.flags, "m", btf=mbtf)
            )
        )
    insns = assemble_c(_resolve(case.text, kernel_btf()))
    opts = Options(log_level=1, gpl=case.gpl) if case.privileged else Options.unprivileged(1)
    res = verify(insns, prog_type_from_name(case.prog_type), maps=maps, options=opts)
    return Answer(res.accepted, res.errno, res.message)


@functools.cache
def host_btf() -> Btf:
    from pybpf.btf import load_vmlinux

    return load_vmlinux()


def kernel_answer(case: Case) -> Answer:
    from pybpf import oracle

    fds: list[int] = []
    try:
        for md in case.maps:
            vsize = 8 * len(md.slots)
            kw: dict[str, Any] = {}
            if md.with_btf:
                btf, kid, vid = value_btf(md.slots)
                res = oracle.btf_load(encode(btf))
                if res.fd is None:
                    return Answer(False, res.errno, "btf load failed")
                fds.append(res.fd)
                kw = {"btf_fd": res.fd, "btf_key_type_id": kid, "btf_value_type_id": vid}
            try:
                fds.append(
                    oracle.map_create(
                        md.type, md.key_size, vsize, md.max_entries, md.flags, name="m", **kw
                    )
                )
            except oracle.OracleError as exc:
                return Answer(False, exc.errno, "map create failed")
        map_fds = _map_fds(case, fds)
        insns = assemble_c(_resolve(case.text, host_btf()))
        pt = prog_type_from_name(case.prog_type)
        r = oracle.prog_load(
            ProgType(pt), insns, license="GPL" if case.gpl else "MIT", fd_array=map_fds or None
        )
        if r.fd is not None:
            oracle.close(r.fd)
        return Answer(r.errno == 0, r.errno, "" if r.errno == 0 else oracle.log_message(r.log))
    finally:
        for fd in fds:
            oracle.close(fd)


def _map_fds(case: Case, fds: list[int]) -> list[int]:
    out = []
    i = 0
    for md in case.maps:
        if md.with_btf:
            i += 1
        out.append(fds[i])
        i += 1
    return out


def record(name: str, cases: Sequence[Case]) -> None:
    out = {c.name: kernel_answer(c).to_json() for c in cases}
    (DATA / f"{name}.json").write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")


def recorded(name: str) -> dict[str, Answer]:
    path = DATA / f"{name}.json"
    if not path.exists():
        return {}
    return {k: Answer(**v) for k, v in json.loads(path.read_text()).items()}


def agree(a: Answer, b: Answer) -> bool:
    if a.accepted != b.accepted:
        return False
    return a.accepted or (a.errno == b.errno and mask(a.message) == mask(b.message))


Mismatch = tuple[str, Answer, Answer]
"""A case where pybpf and the kernel disagree: its name, pybpf's answer, the kernel's."""


def recorded_mismatches(name: str, cases: Sequence[Case]) -> list[Mismatch] | None:
    """The recorded cases pybpf answers differently (None: nothing is recorded)."""
    rec = recorded(name)
    if not rec:
        return None
    out = []
    for c in cases:
        if c.name in rec:
            mine = pybpf_answer(c)
            if not agree(mine, rec[c.name]):
                out.append((c.name, mine, rec[c.name]))
    return out


def live_mismatches(cases: Sequence[Case]) -> list[Mismatch]:
    """The cases pybpf answers differently from the running kernel (bpf() must work)."""
    out = []
    for c in cases:
        k, mine = kernel_answer(c), pybpf_answer(c)
        if not agree(mine, k):
            out.append((c.name, mine, k))
    return out
