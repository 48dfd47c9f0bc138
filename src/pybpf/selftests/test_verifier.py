"""The kernel's ``test_verifier`` selftests, converted into pybpf case files.

Linux 6.1's ``tools/testing/selftests/bpf/verifier/*.c`` hold about 1,300 initialisers
of ``struct bpf_test``: a program written with the kernel's instruction macros, the maps
it needs (``fixup_*``), and what the verifier should say, privileged and not.  They are
read here from Debian's ``linux-source-6.1`` tarball (or a kernel tree) at run time and
never stored in the repository: :func:`iter_cases` yields one :class:`SelftestCase` per
test, in test_verifier's order, each with a case file (docs: case-format.md) or the
reason it cannot have one.

``python -m pybpf.selftests.test_verifier --out DIR`` writes the case files.
"""

from __future__ import annotations

import argparse
import enum
import errno as _errno
import json
import os
import re
import sys
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import BpfError
from ..isa.opcodes import OPCODE_LDDW, PseudoLdImm64
from .cmodel import ArrayType, CType, IntType, PointerType, RecordType, strip
from .cparse import Image, IntVal, Parser, StrVal, Symbol, store
from .ctokens import CSyntaxError, Kind, tokenize
from .fill import generate
from .fixups import FixupKind, Sizes, fixup_kinds
from .frontend import Translation, translate
from .source import VERIFIER_DIR, KernelSource, load_source

POINTER_VALUE = 0xCAFE4A
"""A ``retval`` test_verifier does not check (the program returns a pointer); the value
of test_verifier.c's own macro is used when it can be read."""
ENOTSUPP = 524
"""The kernel-internal errno test_verifier counts as "not supported here" (a skip)."""
TEST_RND_HI32 = 1 << 2
_STRICT_ALIGNMENT = 1 << 0
_ANY_ALIGNMENT = 1 << 1
_F_NEEDS_EFFICIENT_UNALIGNED_ACCESS = 1 << 0
_F_LOAD_WITH_STRICT_ALIGNMENT = 1 << 1
_UNPRIV_PROG_TYPES = frozenset({"socket_filter", "cgroup_skb"})
_BTF_ATTACH_PROG_TYPES = frozenset({"tracing", "lsm"})
_MAX_INSNS = 4096


class Verdict(enum.StrEnum):
    ACCEPT = "accept"
    REJECT = "reject"


@dataclass(frozen=True, slots=True)
class Expectation:
    """What test_verifier requires of one load (privileged or not)."""

    verdict: Verdict
    errstr: str | None
    """Tab-separated strings the log must contain, in order (None: not given)."""
    verbose: bool = False
    """VERBOSE_ACCEPT: the program loads with log level 2 and ``errstr`` is in that log."""
    retvals: tuple[int | None, ...] = ()
    """The return value of each run (None: not checked), when the program loads."""
    insn_processed: int | None = None
    """The verifier's ``processed N insns``, when the test pins it."""

    def log_matches(self, log: str) -> bool:
        """Whether ``log`` has every part of ``errstr`` in order (as test_verifier checks)."""
        if self.errstr is None:
            return self.verdict is Verdict.ACCEPT
        pos = 0
        for needle in self.errstr.split("\t"):
            if not needle:
                continue
            found = log.find(needle, pos)
            if found < 0:
                return False
            pos = found + len(needle)
        return True

    def verdict_matches(self, accepted: bool, log: str) -> bool:
        """The load's outcome is the one expected (runs and insn counts aside)."""
        if self.verdict is Verdict.ACCEPT:
            return accepted and (not self.verbose or self.log_matches(log))
        return not accepted and self.errstr is not None and self.log_matches(log)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"result": self.verdict.value}
        if self.errstr is not None:
            out["errstr"] = self.errstr
        if self.verbose:
            out["verbose"] = True
        if self.retvals:
            out["retvals"] = list(self.retvals)
        if self.insn_processed is not None:
            out["insn_processed"] = self.insn_processed
        return out


@dataclass(frozen=True, slots=True)
class Run:
    """One BPF_PROG_TEST_RUN of the selftest: its packet and the value expected back."""

    data: bytes
    retval: int | None
    retval_unpriv: int | None


@dataclass(frozen=True, slots=True)
class SelftestCase:
    name: str
    """Unique among the tests: ``descr``, with `` #2``, `` #3`` on repeats."""
    descr: str
    file: str
    """The test's file in ``verifier/``."""
    index: int
    """The test's number in test_verifier (the ``#N`` it prints)."""
    prog_type: str
    expected_attach_type: str | None
    flags: int
    """``.flags`` as written."""
    prog_flags: int
    """The BPF_PROG_LOAD ``prog_flags`` test_verifier passes (it always adds
    BPF_F_TEST_RND_HI32)."""
    log_level: int
    """The log level test_verifier loads with: 2 for VERBOSE_ACCEPT, else 4 (statistics
    only, which still carries the verifier's error messages)."""
    expected: Expectation
    unpriv: Expectation | None
    """None when test_verifier does not load the test unprivileged."""
    runs: tuple[Run, ...]
    case: Mapping[str, Any] | None
    """The case file (None when ``skip_reason`` is set)."""
    skip_reason: str | None = None
    notes: tuple[str, ...] = ()
    """What the case file leaves out although the load does not depend on it."""
    runs_faithful: bool = True
    """Whether running the case reproduces test_verifier's runs (prog arrays differ)."""
    expected_xlated: tuple[str, ...] = ()
    """``expected_insns``: instruction hex the loaded program must contain (masks kept)."""
    unexpected_xlated: tuple[str, ...] = ()

    @property
    def skip_category(self) -> str | None:
        """The skip reason up to its first colon (``btf``, ``map btf``, ``kfunc``, ...)."""
        return None if self.skip_reason is None else self.skip_reason.split(":", 1)[0]


# --- reading one struct bpf_test --------------------------------------------------------------


@dataclass(slots=True)
class _TestImage:
    """A ``struct bpf_test`` as bytes, read member by member."""

    tr: Translation
    rec: RecordType
    img: Image
    where: dict[str, tuple[int, CType]] = field(default_factory=dict)
    """Member offsets and types by path, shared by all tests (the struct is the same)."""

    def has(self, member: str) -> bool:
        try:
            self.rec.member(member)
        except CSyntaxError:
            return False
        return True

    def locate(self, path: str) -> tuple[int, CType]:
        got = self.where.get(path)
        if got is None:
            got = Parser(self.tr.scope, tokenize(path)).member_designator(self.rec)
            self.where[path] = got
        return got

    def integer(self, path: str) -> int:
        off, t = self.locate(path)
        s = strip(t)
        if isinstance(s, PointerType):
            p = self.img.read_ptr(off)
            return p if isinstance(p, int) else 1
        if not isinstance(s, IntType):
            raise CSyntaxError(f"struct bpf_test: {path} is not an integer")
        return self.img.read_int(off, s)

    def pointer(self, path: str) -> StrVal | Symbol | None:
        off, _ = self.locate(path)
        p = self.img.read_ptr(off)
        if isinstance(p, int):
            if p:
                raise CSyntaxError(f"{path} holds the number {p:#x}, not a pointer")
            return None
        return p

    def string(self, path: str) -> str | None:
        p = self.pointer(path)
        if isinstance(p, Symbol):
            raise CSyntaxError(f"{path} is {p.name}, not a string")
        return p.text if p is not None else None

    def raw(self, path: str) -> bytes:
        off, t = self.locate(path)
        return bytes(self.img.buf[off : off + t.size])

    def int_list(self, path: str) -> list[int]:
        """A zero-terminated array of ints (a ``fixup_*`` list)."""
        off, t = self.locate(path)
        arr = strip(t)
        elem = strip(arr.elem) if isinstance(arr, ArrayType) else None
        if not isinstance(arr, ArrayType) or not isinstance(elem, IntType):
            raise CSyntaxError(f"struct bpf_test: {path} is not an array of integers")
        out: list[int] = []
        for i in range(arr.count or 0):
            v = self.img.read_int(off + i * elem.size, elem)
            if v == 0:
                break
            out.append(v)
        return out

    def count(self, path: str) -> int:
        _, t = self.locate(path)
        arr = strip(t)
        if not isinstance(arr, ArrayType):
            raise CSyntaxError(f"struct bpf_test: {path} is not an array")
        return arr.count or 0


# --- the conversion ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Context:
    tr: Translation
    rec: RecordType
    kinds: tuple[FixupKind, ...]
    prog_types: Mapping[int, str]
    attach_types: Mapping[int, str]
    result_codes: Mapping[int, str]
    pointer_value: int


def _enum_names(tr: Translation, tag: str, prefix: str) -> dict[int, str]:
    out: dict[int, str] = {}
    for name in tr.scope.enum_members.get(tag, []):
        if name.startswith(prefix) and not name.startswith("__"):
            out.setdefault(tr.scope.constants[name].v, name[len(prefix) :].lower())
    return out


def _sizes(tr: Translation) -> Sizes:
    scope = tr.scope

    def size(tag: str) -> int:
        rec = scope.records.get(f"struct {tag}")
        if rec is None:
            raise BpfError(_errno.EINVAL, f"test_verifier.c: struct {tag} is not defined")
        rec.require_complete()
        return rec.size

    test_val_size = size("test_val")
    test_val = scope.records["struct test_val"]
    img = Image(bytearray(test_val_size))
    # update_map(): index = (6 + 1) * sizeof(int), foo[6] = 0xabcdef12
    for path, value in (("index", 7 * 4), ("foo[6]", 0xABCDEF12)):
        off, t = Parser(scope, tokenize(path)).member_designator(test_val)
        store(t, off, img, IntVal(value, IntType("unsigned int", 4, False, 3)), None, 0)
    return Sizes(
        test_val=test_val_size,
        other_val=size("other_val"),
        cgroup_storage_key=size("bpf_cgroup_storage_key"),
        test_data_len=_macro_value(tr, "TEST_DATA_LEN", 64),
        test_val_init=bytes(img.buf),
    )


def _context(tr: Translation) -> _Context:
    rec = tr.scope.records.get("struct bpf_test")
    if rec is None or not rec.complete:
        raise BpfError(_errno.EINVAL, "test_verifier.c: struct bpf_test could not be read")
    results = {
        tr.scope.constants[n].v: n
        for n in ("UNDEF", "ACCEPT", "REJECT", "VERBOSE_ACCEPT")
        if n in tr.scope.constants
    }
    return _Context(
        tr=tr,
        rec=rec,
        kinds=fixup_kinds(_sizes(tr)),
        prog_types=_enum_names(tr, "bpf_prog_type", "BPF_PROG_TYPE_"),
        attach_types=_enum_names(tr, "bpf_attach_type", "BPF_"),
        result_codes=results,
        pointer_value=_macro_value(tr, "POINTER_VALUE", POINTER_VALUE),
    )


def _macro_value(tr: Translation, name: str, default: int) -> int:
    if name not in tr.cpp.macros:
        return default
    try:
        return tr.parser(tr.cpp.expand(tokenize(name))).const_int()
    except CSyntaxError:
        return default


def _program_length(raw: bytes) -> int:
    """test_verifier's length of a listed program: up to the last slot with a non-zero
    opcode or immediate (trailing all-zero slots are the unused rest of the array)."""
    last = (len(raw.rstrip(b"\0")) + 7) // 8  # no slot past this one has a non-zero byte
    for i in range(min(last, len(raw) // 8) - 1, 0, -1):
        slot = raw[i * 8 : i * 8 + 8]
        if slot[0] or slot[4:8] != b"\0\0\0\0":
            return i + 1
    return 1


def _hex(prog: bytes | bytearray) -> str:
    """The case-file form of a program: 16 hex digits a slot, separated by spaces."""
    return prog.hex(" ", 8)


def _insn_list_hex(raw: bytes) -> tuple[str, ...]:
    """A zero-terminated instruction array (``expected_insns``) as slot hex strings."""
    out: list[str] = []
    for i in range(0, len(raw), 8):
        slot = raw[i : i + 8]
        if slot == bytes(8):
            break
        out.append(slot.hex())
    return tuple(out)


class _Skip(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _apply_fixups(
    t: _TestImage, ctx: _Context, prog: bytearray
) -> tuple[list[dict[str, Any]], list[str], bool]:
    """Map fixups turned into BPF_PSEUDO_MAP_IDX references: (maps, notes, runs faithful)."""
    maps: list[dict[str, Any]] = []
    notes: list[str] = []
    faithful = True
    known = {k.field for k in ctx.kinds} | {"fixup_kfunc_btf_id"}
    for f in ctx.rec.fields:
        if f.name and f.name.startswith("fixup_") and f.name not in known and any(t.raw(f.name)):
            raise _Skip(f"fixup: {f.name} is not a fixup kind the converter knows")
    if t.has("fixup_kfunc_btf_id") and t.pointer("fixup_kfunc_btf_id[0].kfunc") is not None:
        names = []
        for i in range(t.count("fixup_kfunc_btf_id")):
            name = t.string(f"fixup_kfunc_btf_id[{i}].kfunc")
            if name is None:
                break
            names.append(name)
        raise _Skip(f"kfunc btf: calls kernel functions by BTF id ({', '.join(names)})")
    for kind in ctx.kinds:
        if not t.has(kind.field):
            continue
        where = t.int_list(kind.field)
        if not where:
            continue
        if kind.spec is None:
            raise _Skip(kind.skip or f"fixup: {kind.field}")
        maps.append(kind.spec)
        idx = len(maps) - 1
        for at in where:
            if at >= len(prog) // 8 or prog[at * 8] != OPCODE_LDDW:
                raise _Skip(f"fixup: {kind.field} patches insn {at}, which is no 64-bit load")
            regs = prog[at * 8 + 1]
            if regs >> 4 == PseudoLdImm64.MAP_FD:
                src = PseudoLdImm64.MAP_IDX
            elif regs >> 4 == PseudoLdImm64.MAP_VALUE:
                src = PseudoLdImm64.MAP_IDX_VALUE
            else:
                raise _Skip(
                    f"fixup: {kind.field} puts a map fd into insn {at}, a plain 64-bit "
                    "immediate (the fd number itself cannot be reproduced)"
                )
            prog[at * 8 + 1] = (regs & 0x0F) | (src << 4)
            prog[at * 8 + 4 : at * 8 + 8] = idx.to_bytes(4, "little")
        if kind.note:
            notes.append(kind.note)
        faithful = faithful and kind.runs_faithful
    return maps, notes, faithful


def _expectations(
    t: _TestImage, ctx: _Context, prog_type: str, runs: Sequence[Run]
) -> tuple[Expectation, Expectation | None]:
    def verdict(code: int) -> tuple[Verdict, bool]:
        name = ctx.result_codes.get(code, "UNDEF")
        if name in ("ACCEPT", "VERBOSE_ACCEPT"):
            return Verdict.ACCEPT, name == "VERBOSE_ACCEPT"
        return Verdict.REJECT, False  # UNDEF falls into test_verifier's reject branch

    def checked(v: int | None) -> int | None:
        return None if v is None or v == ctx.pointer_value else v

    result, verbose = verdict(t.integer("result"))
    insn_processed = t.integer("insn_processed") or None
    expected = Expectation(
        result,
        t.string("errstr"),
        verbose,
        tuple(checked(r.retval) for r in runs),
        insn_processed,
    )
    if prog_type not in _UNPRIV_PROG_TYPES:
        return expected, None
    code_u = t.integer("result_unpriv")
    u_result, u_verbose = verdict(code_u) if code_u else (result, verbose)
    errstr_u = t.string("errstr_unpriv")
    unpriv = Expectation(
        u_result,
        errstr_u if errstr_u is not None else expected.errstr,
        u_verbose,
        tuple(checked(r.retval_unpriv if r.retval_unpriv else r.retval) for r in runs),
        None,
    )
    return expected, unpriv


def _runs(t: _TestImage, retval_override: int | None) -> list[Run]:
    n = t.integer("runs")
    if n < 0:
        return []
    out: list[Run] = []
    for i in range(max(n, 1)):
        retval = t.integer(f"retvals[{i}].retval") & 0xFFFFFFFF
        if i == 0 and retval_override is not None:
            retval = retval_override
        retval_u = t.integer(f"retvals[{i}].retval_unpriv") & 0xFFFFFFFF
        out.append(Run(t.raw(f"retvals[{i}].data"), retval, retval_u or None))
    return out


def _convert(t: _TestImage, ctx: _Context, name: str, file: str, index: int) -> SelftestCase:
    descr = t.string("descr") or ""
    prog_type_code = t.integer("prog_type")
    prog_type = (  # test_verifier loads a test without .prog_type as a socket filter
        ctx.prog_types.get(prog_type_code, f"type_{prog_type_code}")
        if prog_type_code
        else "socket_filter"
    )
    eat_code = t.integer("expected_attach_type")
    eat = ctx.attach_types.get(eat_code, str(eat_code)) if eat_code else None
    flags = t.integer("flags")
    prog_flags = TEST_RND_HI32
    if flags & _F_LOAD_WITH_STRICT_ALIGNMENT:
        prog_flags |= _STRICT_ALIGNMENT
    if flags & _F_NEEDS_EFFICIENT_UNALIGNED_ACCESS:
        prog_flags |= _ANY_ALIGNMENT
    if flags & ~3:
        prog_flags |= flags

    skip: str | None = None
    notes: list[str] = []
    retval_override: int | None = None
    prog = bytearray()
    maps: list[dict[str, Any]] = []
    faithful = True
    helper = t.pointer("fill_helper")
    try:
        if t.has("btf_types") and (t.integer("btf_types[0]") or t.integer("func_info_cnt")):
            raise _Skip("btf: needs the program's BTF (btf_types / func_info)")
        kfunc = t.string("kfunc")
        if kfunc is not None and prog_type in _BTF_ATTACH_PROG_TYPES:
            raise _Skip(f"attach btf: attaches to kernel function {kfunc} (attach_btf_id)")
        raw = t.raw("insns")
        prog = bytearray(raw[: 8 * _program_length(raw)])
        maps, fixup_notes, faithful = _apply_fixups(t, ctx, prog)
        notes += fixup_notes
        if isinstance(helper, Symbol):

            def helper_id(fn: str) -> int:
                got = ctx.tr.scope.constants.get(f"BPF_FUNC_{fn}")
                if got is None:
                    raise _Skip(f"fill_helper: the headers do not define BPF_FUNC_{fn}")
                return got.v

            filled = generate(name, helper.name, t.integer("retval"), helper_id)
            if filled is None:
                raise _Skip(f"fill_helper: no generator for {helper.name}")
            prog = bytearray(filled.insns)
            retval_override = filled.retval
            notes.append(
                f"program generated like test_verifier's {helper.name}; its random "
                "constants are drawn from a PRNG seeded with the test's name"
            )
    except _Skip as s:
        skip = s.reason
    runs = _runs(t, retval_override)
    expected, unpriv = _expectations(t, ctx, prog_type, runs)
    case: dict[str, Any] | None = None
    if skip is None:
        case = {
            "name": name,
            "prog_type": prog_type,
            "expected_attach_type": eat,
            "insns": _hex(prog),
            "maps": maps,
            "prog_flags": prog_flags,
            "run": ({"data": runs[0].data.hex(), "ctx": None, "repeat": 1} if runs else None),
            "meta": {
                "source": f"{VERIFIER_DIR}/{file}",
                "test_verifier_index": index,
                "descr": descr,
                "expected": expected.to_json(),
                **({"expected_unpriv": unpriv.to_json()} if unpriv is not None else {}),
                **({"runs": [r.data.hex() for r in runs]} if len(runs) > 1 else {}),
                **({"notes": notes} if notes else {}),
            },
        }
    return SelftestCase(
        name=name,
        descr=descr,
        file=file,
        index=index,
        prog_type=prog_type,
        expected_attach_type=eat,
        flags=flags,
        prog_flags=prog_flags,
        log_level=2 if expected.verbose else 4,
        expected=expected,
        unpriv=unpriv,
        runs=tuple(runs),
        case=case,
        skip_reason=skip,
        notes=tuple(notes),
        runs_faithful=faithful,
        expected_xlated=_insn_list_hex(t.raw("expected_insns")) if t.has("expected_insns") else (),
        unexpected_xlated=(
            _insn_list_hex(t.raw("unexpected_insns")) if t.has("unexpected_insns") else ()
        ),
    )


def _failed(name: str, descr: str, file: str, index: int, reason: str) -> SelftestCase:
    return SelftestCase(
        name=name, descr=descr, file=file, index=index, prog_type="", expected_attach_type=None,
        flags=0, prog_flags=0, log_level=4, expected=Expectation(Verdict.REJECT, None),
        unpriv=None, runs=(), case=None, skip_reason=f"parse: {reason}",
    )  # fmt: skip


def _first_string(toks: Sequence[Any]) -> str:
    for tok in toks:
        if tok.kind is Kind.STRING:
            return str(tok.text.strip('"'))
    return ""


def iter_source(source: KernelSource) -> Iterator[SelftestCase]:
    """The tests of an already loaded kernel source (see :func:`iter_cases`)."""
    tr = translate(source)
    ctx = _context(tr)
    seen: Counter[str] = Counter()
    where: dict[str, tuple[int, CType]] = {}
    index = 0
    for file in source.verifier_files():
        text = source.files[f"{VERIFIER_DIR}/{file}"]
        try:
            toks = tr.tokens(text)
        except CSyntaxError as exc:
            raise BpfError(_errno.EINVAL, f"{file}: {exc}") from None
        p = tr.parser(toks)
        while not p.done():
            if p.accept(","):
                continue
            start = p.pos
            img = Image(bytearray(ctx.rec.size))
            failure: str | None = None
            try:
                p.braced(ctx.rec, 0, img)
            except CSyntaxError as exc:
                failure = str(exc)
                p.pos = start
                p.skip_balanced()
            t = _TestImage(tr, ctx.rec, img, where)
            try:
                descr = (t.string("descr") or "") if failure is None else ""
            except CSyntaxError as exc:
                failure, descr = str(exc), ""
            if failure is not None:
                descr = _first_string(toks[start : p.pos])
            seen[descr] += 1
            name = descr if seen[descr] == 1 else f"{descr} #{seen[descr]}"
            if failure is not None:
                yield _failed(name, descr, file, index, failure)
            else:
                try:
                    yield _convert(t, ctx, name, file, index)
                except CSyntaxError as exc:
                    yield _failed(name, descr, file, index, str(exc))
            index += 1


def iter_cases(source: str | os.PathLike[str] | None = None) -> Iterator[SelftestCase]:
    """Every test_verifier test of a kernel tarball or tree (Debian's 6.1 tarball if
    None), converted or with the reason it could not be."""
    return iter_source(load_source(source))


# --- command line ------------------------------------------------------------------------------

_SLUG = re.compile(r"[^A-Za-z0-9]+")


def case_file_name(sc: SelftestCase) -> str:
    slug = _SLUG.sub("_", sc.name).strip("_").lower()[:80]
    return f"{sc.index:04d}-{slug}.json"


def summarize(cases: Sequence[SelftestCase]) -> dict[str, Any]:
    """Counts: tests, converted, and skipped by category."""
    skipped = Counter(sc.skip_category for sc in cases if sc.skip_reason is not None)
    return {
        "tests": len(cases),
        "converted": sum(1 for sc in cases if sc.case is not None),
        "skipped": dict(sorted(skipped.items(), key=lambda kv: (-kv[1], str(kv[0])))),
    }


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m pybpf.selftests.test_verifier",
        description="Convert Linux's test_verifier selftests into pybpf case files.",
    )
    ap.add_argument(
        "--source", default=None,
        help="linux-source tarball or kernel tree (default: /usr/src/linux-source-6.1.tar.xz)",
    )  # fmt: skip
    ap.add_argument("--out", type=Path, default=None, help="write one case JSON per test here")
    ap.add_argument("--skipped", action="store_true", help="list the tests not converted")
    args = ap.parse_args(argv)
    try:
        cases = list(iter_cases(args.source))
    except BpfError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        for sc in cases:
            if sc.case is not None:
                path = args.out / case_file_name(sc)
                path.write_text(json.dumps(sc.case, indent=1) + "\n", encoding="utf-8")
    if args.skipped:
        for sc in cases:
            if sc.skip_reason is not None:
                print(f"#{sc.index} {sc.name}: {sc.skip_reason}")
    print(json.dumps(summarize(cases), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
