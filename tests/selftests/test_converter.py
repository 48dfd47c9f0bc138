"""The test_verifier converter, checked without the kernel (it needs the source tarball).

The expected instructions below were worked out by hand from the selftests' macros, one
slot at a time, not produced by the converter.
"""

from __future__ import annotations

import errno
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from pybpf.errors import BpfError
from pybpf.oracle import parse_case
from pybpf.selftests import test_verifier
from pybpf.selftests.kernel_verdicts import Outcome, agreement, load_recording
from pybpf.selftests.source import KernelSource, load_source
from pybpf.selftests.test_verifier import (
    SelftestCase,
    Verdict,
    case_file_name,
    iter_source,
    main,
    summarize,
)

from .conftest import VERDICTS

# What the converter finds in Debian's linux-source-6.1 (6.1.176-1): the exact counts are
# checked for that version; other 6.1 point releases may add or drop a few tests.
KNOWN_COUNTS: dict[str, dict[str, Any]] = {
    "6.1.176": {
        "tests": 1365,
        "converted": 1293,
        "skipped": {"map btf": 40, "kfunc btf": 14, "attach btf": 12, "btf": 6},
    },
}

NO_PREALLOC = 1
TEST_RND_HI32 = 4
ANY_ALIGNMENT = 2
TEST_VAL_INIT = "1c" + "00" * 27 + "12efcdab" + "00" * 16  # index = 28, foo[6] = 0xabcdef12


def slots(sc: SelftestCase) -> list[str]:
    assert sc.case is not None, sc.skip_reason
    return str(sc.case["insns"]).split()


def test_counts(selftest_cases: list[SelftestCase], kernel_source: KernelSource) -> None:
    got = summarize(selftest_cases)
    print(f"linux {kernel_source.version}: {got}")
    assert 1200 < got["tests"] < 1600
    assert got["converted"] > 0.9 * got["tests"]
    known = KNOWN_COUNTS.get(kernel_source.version or "")
    if known is not None:
        assert got == known


def test_every_test_converts_or_says_why(selftest_cases: list[SelftestCase]) -> None:
    for sc in selftest_cases:
        assert (sc.case is None) == (sc.skip_reason is not None), sc.name
        assert sc.skip_category != "parse", f"{sc.name}: {sc.skip_reason}"
    assert [sc.index for sc in selftest_cases] == list(range(len(selftest_cases)))
    names = [sc.name for sc in selftest_cases]
    assert len(set(names)) == len(names)
    assert len({case_file_name(sc) for sc in selftest_cases}) == len(names)


def test_case_files_are_well_formed(selftest_cases: list[SelftestCase]) -> None:
    for sc in selftest_cases:
        if sc.case is None:
            continue
        parsed = parse_case(sc.case)  # raises on anything the case format does not allow
        assert parsed.name == sc.name
        raw = parsed.insns
        for i in range(0, len(raw), 8):
            if raw[i] == 0x18 and raw[i + 1] >> 4 in (5, 6):  # lddw of maps[imm]
                idx = int.from_bytes(raw[i + 4 : i + 8], "little")
                assert idx < len(parsed.maps), f"{sc.name}: insn {i // 8} names map {idx}"
        if sc.runs:
            assert parsed.run is not None and len(parsed.run.data) == 64
        assert sc.case["prog_flags"] == sc.prog_flags and sc.prog_flags & TEST_RND_HI32


def test_map_fixup_and_defaults(by_name: dict[str, SelftestCase]) -> None:
    sc = by_name["invalid and of negative number"]
    assert sc.file == "and.c"
    assert sc.prog_type == "socket_filter"  # .prog_type unset: test_verifier's default
    assert slots(sc) == [
        "7a0af8ff00000000",  # *(u64 *)(r10 - 8) = 0
        "bfa2000000000000",  # r2 = r10
        "07020000f8ffffff",  # r2 += -8
        "1851000000000000",  # r1 = map[0]: BPF_PSEUDO_MAP_IDX in place of the fd fixup
        "0000000000000000",
        "8500000001000000",  # call map_lookup_elem
        "1500040000000000",  # if r0 == 0 goto +4
        "7101000000000000",  # r1 = *(u8 *)(r0 + 0)
        "57010000fcffffff",  # r1 &= -4
        "6701000002000000",  # r1 <<= 2
        "0f10000000000000",  # r0 += r1
        "7a00000004000000",  # *(u64 *)(r0 + 0) = offsetof(struct test_val, foo)
        "9500000000000000",  # exit
    ]
    assert sc.case is not None
    assert sc.case["maps"] == [
        {"type": "hash", "key_size": 8, "value_size": 48, "max_entries": 1, "flags": NO_PREALLOC}
    ]
    assert sc.expected == sc.unpriv  # a socket filter: tried unprivileged too, same verdict
    assert sc.expected.verdict is Verdict.REJECT
    assert sc.expected.errstr == "R0 max value is outside of the allowed memory range"
    assert sc.prog_flags == TEST_RND_HI32 | ANY_ALIGNMENT  # F_NEEDS_EFFICIENT_UNALIGNED_ACCESS
    assert sc.log_level == 4


def test_map_value_fixup(by_name: dict[str, SelftestCase]) -> None:
    sc = by_name["direct map access, write test 2"]
    assert slots(sc) == [
        "b700000001000000",  # r0 = 1
        "1861000000000000",  # r1 = &maps[0] value + 8: BPF_PSEUDO_MAP_IDX_VALUE
        "0000000008000000",
        "7a01000092100000",  # *(u64 *)(r1 + 0) = 4242
        "9500000000000000",
    ]
    assert sc.case is not None
    assert sc.case["maps"] == [
        {
            "type": "array", "key_size": 4, "value_size": 48, "max_entries": 1, "flags": 0,
            "map_init": TEST_VAL_INIT,
        }
    ]  # fmt: skip
    assert [r.retval for r in sc.runs] == [1]


def test_macros_stringification_and_offsetof(by_name: dict[str, SelftestCase]) -> None:
    # Both names come out of '#' in a macro defined in the test file itself.
    sc = by_name["atomic fetch BPF_ADD | BPF_FETCH, src=BPF_REG_2 dst=BPF_REG_2"]
    assert slots(sc) == [
        "7a0af8ff01000000",  # *(u64 *)(r10 - 8) = 1
        "bfa2000000000000",  # r2 = r10
        "b701000002000000",  # r1 = 2
        "db12f8ff01000000",  # r1 = atomic_fetch_add((u64 *)(r2 - 8), r1)
        "1501020001000000",  # if r1 == 1 goto +2
        "b700000001000000",
        "9500000000000000",
        "79a1f8ff00000000",  # r1 = *(u64 *)(r10 - 8)
        "1501020003000000",  # if r1 == 3 goto +2
        "b700000002000000",
        "9500000000000000",
        "b700000000000000",
        "9500000000000000",
    ]
    sc = by_name["wide store to bpf_sock_addr.user_ip6[1]"]
    assert slots(sc) == [
        "b700000001000000",
        "7b010c0000000000",  # *(u64 *)(r1 + offsetof(struct bpf_sock_addr, user_ip6[1]))
        "9500000000000000",
    ]
    assert (sc.prog_type, sc.expected_attach_type) == ("cgroup_sock_addr", "cgroup_udp6_sendmsg")
    assert sc.unpriv is None  # test_verifier loads only socket filters and cgroup_skb unprivileged


def test_several_runs(by_name: dict[str, SelftestCase]) -> None:
    sc = by_name["jset32: BPF_K"]
    assert slots(sc) == [
        # BPF_DIRECT_PKT_R2, from test_verifier.c
        "b700000000000000",  # r0 = 0
        "61124c0000000000",  # r2 = skb->data
        "6113500000000000",  # r3 = skb->data_end
        "bf24000000000000",  # r4 = r2
        "0704000008000000",  # r4 += 8
        "bd34010000000000",  # if r4 <= r3 goto +1
        "9500000000000000",
        # the test's own
        "7927000000000000",  # r7 = *(u64 *)(r2 + 0)
        "46070100feffffff",  # if w7 & -2 goto +1
        "0500010000000000",  # goto +1
        "9500000000000000",
        "4607010001000000",  # if w7 & 1 goto +1
        "9500000000000000",
        "b700000002000000",  # r0 = 2
        "9500000000000000",
    ]
    assert [r.retval for r in sc.runs] == [0, 2, 2]
    assert [r.data[:8].hex() for r in sc.runs] == [
        "0000000000000080",
        "0100000000000000",
        "0100000000000080",
    ]
    assert all(len(r.data) == 64 and not any(r.data[8:]) for r in sc.runs)
    assert sc.expected.retvals == (0, 2, 2)
    assert sc.case is not None and sc.case["run"]["data"] == sc.runs[0].data.hex()


def test_empty_program_is_one_zero_slot(by_name: dict[str, SelftestCase]) -> None:
    # test_verifier loads at least one instruction, even of an empty list
    assert slots(by_name["empty prog"]) == ["0000000000000000"]


def test_generated_programs(by_name: dict[str, SelftestCase]) -> None:
    sc = by_name["jit: torturous jumps, imm8 nop jmp and pure jump padding"]
    prog = slots(sc)
    assert len(prog) == 259
    assert prog[0] == "8500000007000000"  # call get_prandom_u32
    assert prog[1] == "1500800001000000"  # if r0 == 1 goto +128
    assert prog[129] == "05007f0000000000"  # goto +127
    assert prog[-2:] == ["b700000001000000", "9500000000000000"]
    assert len(slots(by_name["scale: scale test 1"])) == 1_000_000 - 8192 * 4 + 1
    ld_dw = by_name["ld_dw: xor semi-random 64 bit imms, test 4"]
    assert len(slots(ld_dw)) == 11
    assert ld_dw.expected.retvals[0] is not None  # computed from the generated constants


def test_skip_reasons(by_name: dict[str, SelftestCase], selftest_cases: list[SelftestCase]) -> None:
    assert by_name["spin_lock: test1 success"].skip_category == "map btf"
    assert by_name["d_path accept"].skip_category == "attach btf"
    assert by_name["inline simple bpf_loop call"].skip_category == "btf"
    kfunc = [sc for sc in selftest_cases if sc.skip_category == "kfunc btf"]
    assert kfunc and all("bpf_kfunc_call" in (sc.skip_reason or "") for sc in kfunc)


def test_prog_array_cases_say_their_runs_differ(selftest_cases: list[SelftestCase]) -> None:
    tail = [sc for sc in selftest_cases if sc.case and any(
        m["type"] == "prog_array" for m in sc.case["maps"])]  # fmt: skip
    assert tail
    assert all(not sc.runs_faithful and sc.notes for sc in tail)


def test_command_line_writes_case_files(
    tmp_path: Path,
    selftest_cases: list[SelftestCase],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    some = selftest_cases[:30] + [sc for sc in selftest_cases if sc.skip_reason][:2]
    monkeypatch.setattr(test_verifier, "iter_cases", lambda source: iter(some))
    assert main(["--out", str(tmp_path), "--skipped"]) == 0
    written = sorted(tmp_path.glob("*.json"))
    assert len(written) == 30 and written[0].name.startswith("0000-")
    assert some[0].case is not None
    assert json.loads(written[0].read_text())["insns"] == some[0].case["insns"]
    out = capsys.readouterr().out
    assert '"converted": 30' in out
    assert f"#{some[-1].index} {some[-1].name}: {some[-1].skip_reason}" in out


def test_missing_source_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(BpfError) as err:
        load_source(tmp_path / "nothing.tar.xz")
    assert err.value.errno == errno.ENOENT
    with pytest.raises(BpfError):
        list(iter_source(load_source(tmp_path)))  # a directory without the selftests


def test_recorded_kernel_verdicts_match_the_cases(selftest_cases: list[SelftestCase]) -> None:
    """The recorded answers cover exactly the converted cases, and the comparison with
    the 6.1 expectations runs from them without the kernel."""
    rec = load_recording(VERDICTS)
    converted = {sc.name for sc in selftest_cases if sc.case is not None}
    assert set(rec.verdicts) == converted
    counts = agreement(selftest_cases, rec.verdicts)
    print({o.value: n for o, n in counts.most_common()})
    assert sum(counts.values()) == len(converted)
    assert counts[Outcome.AGREE] > 0.9 * len(converted)
    assert Counter(v.accepted for v in rec.verdicts.values())[True] > len(converted) // 2
