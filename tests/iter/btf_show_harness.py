"""``bpf_seq_printf_btf`` and ``bpf_snprintf_btf`` on pybpf and on the running kernel.

One ``iter/bpf_map_elem`` program shows every element of an array map: an element is a
case, a 32-byte header then the object's bytes::

    u32 type_id; u32 flags; u32 snprintf_size; u32 pad; u64 ptr; u64 pad; u8 data[];

With ``snprintf_size`` 0 the program calls ``bpf_seq_printf_btf`` on the data (or on
``ptr`` when set) and writes a NUL and the helper's return value after the text; else it
calls ``bpf_snprintf_btf`` into a 256-byte stack buffer filled with ``.`` and writes
the first ``snprintf_size`` bytes of the buffer and the return value.

The types are those pybpf's kernel BTF shares with the running kernel's, member for
member; each side puts its own type id in the header.  ``python tests/iter/btf_show_harness.py``
(from the repository root: ``python -m tests.iter.btf_show_harness``) builds the cases,
runs them on the kernel and writes ``tests/data/iter/btf_show_kernel.json.gz``.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .harness import Case, MapCase, run_kernel, run_pybpf

DATA = Path(__file__).resolve().parents[1] / "data" / "iter" / "btf_show_kernel.json.gz"
HEADER = 32
MAX_DATA = 512
SNPRINTF_BUF = 256

COMPACT, NONAME, PTR_RAW, ZERO = 1, 2, 4, 8

_FILL = "".join(f"*(u64 *)(r10 {-288 + 8 * i:+d}) = r9\n" for i in range(SNPRINTF_BUF // 8))
PROGRAM = (
    "r6 = *(u64 *)(r1 + 0)\nr6 = *(u64 *)(r6 + 0)\nr8 = *(u64 *)(r1 + 24)\n"
    "if r8 == 0 goto end\n"
    f"r2 = r8\nr2 += {HEADER}\nr3 = *(u64 *)(r8 + 16)\nif r3 == 0 goto own\nr2 = r3\n"
    "own:\n*(u64 *)(r10 - 16) = r2\nr3 = *(u32 *)(r8 + 0)\n*(u32 *)(r10 - 8) = r3\n"
    "r3 = 0\n*(u32 *)(r10 - 4) = r3\n"
    "r7 = *(u32 *)(r8 + 8)\nif r7 != 0 goto snp\n"
    "r1 = r6\nr2 = r10\nr2 += -16\nr3 = 16\nr4 = *(u32 *)(r8 + 4)\ncall 150\n"
    "r9 = 0\n*(u64 *)(r10 - 32) = r9\n*(u64 *)(r10 - 24) = r0\n"
    "r1 = r6\nr2 = r10\nr2 += -25\nr3 = 9\ncall 127\ngoto end\n"
    "snp:\nr9 = 0x2e2e2e2e2e2e2e2e ll\n" + _FILL
    + "r1 = r10\nr1 += -288\nr2 = r7\nr2 += -1\nr2 &= 255\nr2 += 1\n"
    "r3 = r10\nr3 += -16\nr4 = 16\nr5 = *(u32 *)(r8 + 4)\ncall 149\n"
    "*(u64 *)(r10 - 24) = r0\n"
    "r1 = r6\nr2 = r10\nr2 += -288\nr3 = *(u32 *)(r8 + 8)\nr3 += -1\nr3 &= 255\nr3 += 1\ncall 127\n"
    "r1 = r6\nr2 = r10\nr2 += -24\nr3 = 8\ncall 127\n"
    "end:\nr0 = 0\nexit\n"
)  # fmt: skip


@dataclass(frozen=True)
class ShowCase:
    """One object shown: a type by name and kind, its bytes, the flags."""

    type_name: str
    kind: str
    data: bytes
    flags: int
    snprintf_size: int = 0
    ptr: int = 0
    type_id_override: int = 0
    """A raw type id (for the refusals), the same on both sides."""

    def header(self, type_id: int) -> bytes:
        tid = self.type_id_override or type_id
        return (tid.to_bytes(4, "little") + self.flags.to_bytes(4, "little")
                + self.snprintf_size.to_bytes(4, "little") + bytes(4)
                + self.ptr.to_bytes(8, "little") + bytes(8))  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type_name, "kind": self.kind, "data": self.data.hex(),
                "flags": self.flags, "snprintf_size": self.snprintf_size, "ptr": self.ptr,
                "type_id": self.type_id_override}  # fmt: skip

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ShowCase:
        return cls(d["type"], d["kind"], bytes.fromhex(d["data"]), d["flags"],
                   d["snprintf_size"], d["ptr"], d["type_id"])  # fmt: skip


# --- the types both kernels have --------------------------------------------------------

_MOD_KINDS = ("VOLATILE", "CONST", "RESTRICT", "TYPE_TAG")


def _signature(btf: Any, tid: int, depth: int = 0) -> str:
    """The layout of a type as far as showing it goes (pointees by kind and name)."""
    from pybpf.btf.types import Array, Enum, Enum64, Int, Ptr, Struct, Union

    if tid == 0:
        return "void"
    t = btf[tid]
    name = getattr(t, "name", "")
    if depth > 8:
        return f"{t.kind.name}:{name}"
    if isinstance(t, Int):
        return f"int:{name}:{t.size}:{t.bits}:{int(t.encoding)}:{t.offset}"
    if isinstance(t, Ptr):
        target = t.type
        chain = []
        while target and btf[target].kind.name in (*_MOD_KINDS, "TYPEDEF"):
            chain.append(f"{btf[target].kind.name}:{getattr(btf[target], 'name', '')}")
            target = btf[target].type
        tail = f"{btf[target].kind.name}:{getattr(btf[target], 'name', '')}" if target else "void"
        return "ptr(" + ">".join([*chain, tail]) + ")"
    if isinstance(t, Array):
        return f"arr{t.nelems}({_signature(btf, t.type, depth + 1)})"
    if isinstance(t, Struct | Union):
        members = ",".join(f"{m.name}@{m.offset}:{m.bitfield_size}:{_signature(btf, m.type, depth + 1)}"
                           for m in t.members)  # fmt: skip
        return f"{t.kind.name}:{name}:{t.size}:{int(t.kflag)}{{{members}}}"
    if isinstance(t, Enum | Enum64):
        values = ",".join(f"{v.name}={v.value}" for v in t.values)
        return f"{t.kind.name}:{name}:{t.size}:{int(t.signed)}:{values}"
    inner = getattr(t, "type", None)
    return (
        f"{t.kind.name}:{name}("
        + (_signature(btf, inner, depth + 1) if inner is not None else "")
        + ")"
    )


def shared_types() -> list[tuple[str, str, int]]:
    """(name, kind, size) of pybpf's named types laid out as in the running kernel."""
    from pybpf.btf import Kind, load_vmlinux
    from pybpf.btf.resolve import resolve_size
    from pybpf.kernel.vmlinux import kernel_btf

    real, mine = load_vmlinux(), kernel_btf()
    out = []
    kinds = (Kind.STRUCT, Kind.UNION, Kind.ENUM, Kind.ENUM64, Kind.TYPEDEF, Kind.INT)
    for tid in range(1, len(mine)):
        t = mine[tid]
        name = getattr(t, "name", "")
        if t.kind not in kinds or not name:
            continue
        rid = real.find_by_name_kind(name, t.kind)
        if rid is None or _signature(mine, tid) != _signature(real, rid):
            continue
        try:
            size = resolve_size(mine, tid)
        except Exception:
            continue
        if 0 < size <= MAX_DATA:
            out.append((name, t.kind.name.lower(), size))
    return out


def type_signature(name: str, kind: str, btf: Any = None) -> str | None:
    """The layout of pybpf's type (or ``btf``'s) as :func:`shared_types` compares it."""
    from pybpf.btf import Kind
    from pybpf.kernel.vmlinux import kernel_btf

    btf = btf if btf is not None else kernel_btf()
    tid = btf.find_by_name_kind(name, Kind[kind.upper()])
    return None if tid is None else _signature(btf, tid)


def _patterns(rng: random.Random, size: int) -> dict[str, bytes]:
    sparse = bytearray(size)
    for _ in range(max(1, size // 24)):
        sparse[rng.randrange(size)] = rng.randrange(1, 256)
    small = b"".join(
        rng.choice((0, 0, 1, 2, 3)).to_bytes(4, "little") for _ in range((size + 3) // 4)
    )
    text = bytearray(rng.choice(b"abcXYZ 09_~\xe9\x7f\x01") for _ in range(size))
    if size > 4:
        text[rng.randrange(size // 2, size)] = 0
    return {"zero": bytes(size), "random": rng.randbytes(size), "sparse": bytes(sparse),
            "small": small[:size], "text": bytes(text)}  # fmt: skip


_AGGREGATE_FLAGS = {
    "zero": (0, ZERO | NONAME, ZERO | COMPACT),
    "random": (0, COMPACT | PTR_RAW, NONAME, PTR_RAW | ZERO),
    "sparse": (0, COMPACT, NONAME | COMPACT | PTR_RAW),
    "small": (0, ZERO | COMPACT | PTR_RAW),
    "text": (PTR_RAW,),
}
_SCALAR_FLAGS = {"zero": (0, ZERO), "random": (0, NONAME | COMPACT), "small": (0,)}


def build_cases(types: list[tuple[str, str, int]], seed: int = 5) -> list[ShowCase]:
    rng = random.Random(seed)
    cases: list[ShowCase] = []
    for name, kind, size in types:
        pats = _patterns(rng, size)
        table = _AGGREGATE_FLAGS if kind in ("struct", "union") else _SCALAR_FLAGS
        for pat, flag_set in table.items():
            for flags in flag_set:
                cases.append(ShowCase(name, kind, pats[pat], flags))
    # bpf_snprintf_btf: cut at several sizes, the length of the whole text returned
    for name in ("__sk_buff", "bpf_sock", "in6_addr", "list_head"):
        size = next((s for n, k, s in types if n == name and k == "struct"), 0)
        if not size:
            continue
        data = _patterns(rng, size)["random"]
        for snp in (1, 2, 7, 40, 256):
            cases.append(ShowCase(name, "struct", data, PTR_RAW, snprintf_size=snp))
        cases.append(ShowCase(name, "struct", bytes(size), COMPACT, snprintf_size=256))
    # refusals and faults
    cases += [
        ShowCase("int", "int", bytes(4), 0, type_id_override=0xFFFFFF),
        ShowCase("int", "int", bytes(4), 0, type_id_override=0x80000001),
        ShowCase("int", "int", bytes(4), 16),
        ShowCase("int", "int", bytes(4), 1 << 31),
        ShowCase("list_head", "struct", bytes(16), 0, ptr=0x10),
        ShowCase("list_head", "struct", bytes(16), 0, snprintf_size=64, ptr=0x10),
        ShowCase("int", "int", bytes(4), ZERO, ptr=0x7FFF_0000_0000),
        ShowCase("int", "int", bytes(4), 32, snprintf_size=64),
    ]
    return cases


# --- running ---------------------------------------------------------------------------------


def _iter_case(cases: list[ShowCase], ids: list[int]) -> Case:
    value_size = HEADER + max(len(c.data) for c in cases)
    entries = tuple(
        (i.to_bytes(4, "little").hex(), (c.header(tid) + c.data).ljust(value_size, b"\0").hex())
        for i, (c, tid) in enumerate(zip(cases, ids, strict=True))
    )
    return Case("btf_show", PROGRAM, MapCase("array", 4, value_size, len(cases), entries),
                read_size=1 << 17)  # fmt: skip


def split_output(cases: list[ShowCase], out: bytes) -> list[dict[str, Any]]:
    """Each case's text (or buffer) and the helper's return value."""
    recs = []
    pos = 0
    for c in cases:
        if c.snprintf_size:
            text = out[pos : pos + c.snprintf_size]
            pos += c.snprintf_size
        else:
            end = out.index(b"\0", pos)
            text = out[pos:end]
            pos = end + 1
        ret = int.from_bytes(out[pos : pos + 8], "little", signed=True)
        pos += 8
        recs.append({"text": text.decode("latin-1"), "ret": ret})
    if pos != len(out):
        raise ValueError(f"{len(out) - pos} bytes left over")
    return recs


def _ids(cases: list[ShowCase], lookup: Any) -> list[int]:
    return [0 if c.type_id_override else lookup(c.type_name, c.kind) for c in cases]


def run_on_pybpf(cases: list[ShowCase]) -> list[dict[str, Any]]:
    from pybpf.kernel.vmlinux import type_id

    rec = run_pybpf(_iter_case(cases, _ids(cases, type_id)), 1)
    if not rec["accepted"] or rec["link_errno"] or rec["read_errno"]:
        raise RuntimeError(f"pybpf did not run the iterator: {rec}")
    return split_output(cases, rec["output"].encode("latin-1"))


def _kernel_type_id(name: str, kind: str) -> int:
    from pybpf.btf import Kind, load_vmlinux

    found = load_vmlinux().find_by_name_kind(name, Kind[kind.upper()])
    if found is None:
        raise RuntimeError(f"the running kernel has no {kind} {name}")
    return int(found)


def run_on_kernel(cases: list[ShowCase]) -> list[dict[str, Any]]:
    rec = run_kernel(_iter_case(cases, _ids(cases, _kernel_type_id)))
    if not rec["accepted"] or rec["link_errno"] or rec["read_errno"]:
        raise RuntimeError(f"the kernel did not run the iterator: {rec}")
    return split_output(cases, rec["output"].encode("latin-1"))


_HASHED = re.compile(r"(?<![0-9a-fx])0x00000000[0-9a-f]{8}(?![0-9a-f])")


def normalize(case: ShowCase, rec: dict[str, Any]) -> dict[str, Any]:
    """Hashed pointers (no ``BTF_F_PTR_RAW``) differ per boot: keep only that one was
    printed (and whether it was NULL)."""
    if case.flags & PTR_RAW:
        return rec
    text = _HASHED.sub(lambda m: m.group(0) if m.group(0) == "0x" + "0" * 16 else "0x<hashed>",
                       rec["text"])  # fmt: skip
    return {**rec, "text": text}


# --- types only the running kernel has, shown by the formatter on their own BTF ----------

KERNEL_TYPES: tuple[tuple[str, str], ...] = (
    ("sk_buff", "struct"),  # bitfields, unions, char cb[48], pointers, nested structs
    ("taskstats", "struct"),  # char arrays
    ("new_utsname", "struct"),  # six char[65]
    ("dentry", "struct"),  # named unions, qstr, the inline name
    ("bpf_attr", "union"),  # a union of anonymous structs, char prog_name[16]
    ("bpf_prog_info", "struct"),
    ("__sifields", "union"),
    ("flowi4", "struct"),
    ("flowi6", "struct"),
    ("fred_cs", "struct"),  # bitfields over a u64
    ("iphdr", "struct"),
    ("ipv6hdr", "struct"),
    ("tcphdr", "struct"),
    ("ethhdr", "struct"),
    ("sockaddr_in6", "struct"),
    ("thread_struct", "struct"),  # arrays of pointers and of structs
    ("rcu_segcblist", "struct"),  # an array of pointers
    ("key_payload", "union"),
    ("pid", "struct"),
    ("posix_cputimers", "struct"),
    ("bpf_reg_types", "struct"),  # an array of enums
    ("__u128_halves", "union"),  # a 128-bit integer
    ("net_iov", "struct"),  # an enum64 member
    ("perf_callchain_context", "enum64"),
    ("rpm_status", "enum"),  # a signed enum
    ("rw_hint", "enum"),  # a one-byte enum
    ("__int128 unsigned", "int"),
    ("__int128", "int"),
    ("file_system_type", "struct"),
    ("rseq", "struct"),
)

_KERNEL_FLAGS = {
    "zero": (0, ZERO, ZERO | NONAME | COMPACT),
    "random": (PTR_RAW, PTR_RAW | COMPACT, PTR_RAW | NONAME, PTR_RAW | ZERO, 0),
    "sparse": (PTR_RAW, PTR_RAW | COMPACT | ZERO),
    "small": (PTR_RAW, COMPACT),
    "text": (PTR_RAW, PTR_RAW | COMPACT),
}


def kernel_type_cases(seed: int = 7) -> tuple[dict[str, dict[str, Any]], list[ShowCase]]:
    """The kernel-only types cut out of the running kernel's BTF, and their cases."""
    from pybpf.btf import Kind, load_vmlinux
    from pybpf.btf.resolve import resolve_size

    from .btf_closure import cut_type, pack

    real = load_vmlinux()
    rng = random.Random(seed)
    types: dict[str, dict[str, Any]] = {}
    cases: list[ShowCase] = []
    for name, kind in KERNEL_TYPES:
        tid = real.find_by_name_kind(name, Kind[kind.upper()])
        if tid is None:
            continue
        raw, nid = cut_type(real, tid)
        types[f"{kind} {name}"] = {"btf": pack(raw), "id": nid}
        pats = _patterns(rng, resolve_size(real, tid))
        for pat, flag_set in _KERNEL_FLAGS.items():
            for flags in flag_set:
                cases.append(ShowCase(name, kind, pats[pat], flags))
    return types, cases


def show_on_btf(btf: Any, type_id: int, case: ShowCase) -> dict[str, Any]:
    """pybpf's formatter alone: the text and status for one case on ``btf``."""
    from pybpf.kernel.helpers.btf_show import show_btf
    from pybpf.memory import MEMORY, RegionKind, allocate

    region = allocate(max(len(case.data), 1), RegionKind.MAP_VALUE, "btf_show", True, case.data)
    try:
        parts: list[bytes] = []
        status = show_btf(btf, type_id, case.ptr or region.base, case.flags, parts.append)
    finally:
        MEMORY.remove(region)
    return {"text": b"".join(parts).decode("latin-1"), "ret": status}


def load_recorded() -> dict[str, Any]:
    return dict(json.loads(gzip.decompress(DATA.read_bytes())))


def record() -> dict[str, Any]:
    types = shared_types()
    cases = build_cases(types)
    got = run_on_kernel(cases)
    ktypes, kcases = kernel_type_cases()
    kgot = run_on_kernel(kcases)
    return {"kernel": os.uname().release, "types": len(types),
            "signatures": {f"{k} {n}": type_signature(n, k) for n, k, _ in types},
            "cases": [{**c.to_json(), **r} for c, r in zip(cases, got, strict=True)],
            "kernel_types": ktypes,
            "kernel_cases": [{**c.to_json(), **r} for c, r in zip(kcases, kgot, strict=True)]}  # fmt: skip


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))
    rec = record()
    DATA.parent.mkdir(parents=True, exist_ok=True)
    DATA.write_bytes(
        gzip.compress((json.dumps(rec, indent=0, sort_keys=True) + "\n").encode(), 9, mtime=0)
    )
    print(f"{len(rec['cases'])} cases over {rec['types']} types written to {DATA}", file=sys.stderr)
