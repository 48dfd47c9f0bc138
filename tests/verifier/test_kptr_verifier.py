"""kptrs in map values, as the verifier sees them: typed loads, exact-type stores, only
zero as an immediate, double words only, nothing else touching the field, and referenced
kptrs moving only through bpf_kptr_xchg.

Compared with the running kernel (recorded in tests/data/verifier/kptr_kernel.json;
regenerate with ``python -m tests.verifier.test_kptr_verifier`` where bpf() works).
"""

from __future__ import annotations

import pytest

from pybpf.maps.types import MapType

from .kptr_harness import (
    Case,
    MapDef,
    live_mismatches,
    record,
    recorded_mismatches,
)

SLOTS = ("u64", "kptr_untrusted:task_struct", "kptr:task_struct")
ARRAY = (MapDef(MapType.ARRAY, SLOTS),)
HASH = (MapDef(MapType.HASH, SLOTS),)
NOBTF = (MapDef(MapType.ARRAY, SLOTS, with_btf=False),)
PLAIN = (MapDef(MapType.ARRAY, ("u64", "u64", "u64")),)

# r6 = the value of element 0 (the program exits when there is none)
LOOKUP = (
    "r1 = map[idx:0]\n*(u32 *)(r10 - 4) = 0\nr2 = r10\nr2 += -4\ncall bpf_map_lookup_elem\n"
    "if r0 != 0 goto +2\nr0 = 0\nexit\nr6 = r0\n"
)
END = "out:\nr0 = 0\nexit\n"
CUR = "call bpf_get_current_task_btf\n"
ACQ = CUR + "r1 = r0\ncall kernel-function#{kf:bpf_task_acquire}\n"
REL = "r1 = r0\ncall kernel-function#{kf:bpf_task_release}\n"
XCHG = "r1 = r6\nr1 += 16\ncall bpf_kptr_xchg\n"


def _k(name: str, body: str, maps: tuple[MapDef, ...] = ARRAY) -> Case:
    return Case(name, "tracepoint", LOOKUP + body + END, maps)


CASES: tuple[Case, ...] = (
    _k("ldx_unref", "r1 = *(u64 *)(r6 + 8)\n"),
    _k("ldx_unref_u32", "r1 = *(u32 *)(r6 + 8)\n"),
    _k("ldx_misaligned", "r1 = *(u32 *)(r6 + 12)\n"),
    _k("ldx_overlapping_u64", "r1 = *(u64 *)(r6 + 4)\n"),
    _k(
        "ldx_unref_then_deref",
        "r1 = *(u64 *)(r6 + 8)\nif r1 == 0 goto out\nr2 = *(u32 *)(r1 + {off:task_struct.pid})\n",
    ),
    _k(
        "ldx_unref_deref_unchecked",
        "r1 = *(u64 *)(r6 + 8)\nr2 = *(u32 *)(r1 + {off:task_struct.pid})\n",
    ),
    _k("st_unref_zero", "*(u64 *)(r6 + 8) = 0\n"),
    _k("st_unref_nonzero", "*(u64 *)(r6 + 8) = 1\n"),
    _k("st_unref_u32", "*(u32 *)(r6 + 8) = 0\n"),
    _k("stx_unref_task", CUR + "*(u64 *)(r6 + 8) = r0\n"),
    _k("stx_unref_scalar", "r1 = 5\n*(u64 *)(r6 + 8) = r1\n"),
    _k("stx_unref_null", "r1 = 0\n*(u64 *)(r6 + 8) = r1\n"),
    _k(
        "stx_unref_wrong_struct",
        CUR + "r1 = *(u64 *)(r0 + {off:task_struct.cgroups})\n*(u64 *)(r6 + 8) = r1\n",
    ),
    _k("stx_unref_map_value", "*(u64 *)(r6 + 8) = r6\n"),
    _k("stx_unref_offset_ptr", CUR + "r0 += 8\n*(u64 *)(r6 + 8) = r0\n"),
    _k("stx_ref", CUR + "*(u64 *)(r6 + 16) = r0\n"),
    _k("st_ref_zero", "*(u64 *)(r6 + 16) = 0\n"),
    _k("ldx_ref", "r1 = *(u64 *)(r6 + 16)\n"),
    _k(
        "ldx_ref_acquire",
        "r1 = *(u64 *)(r6 + 16)\nif r1 == 0 goto out\ncall kernel-function#{kf:bpf_task_acquire}\n"
        "if r0 == 0 goto out\n" + REL,
    ),
    _k(
        "ldx_unref_acquire",
        "r1 = *(u64 *)(r6 + 8)\nif r1 == 0 goto out\ncall kernel-function#{kf:bpf_task_acquire}\n"
        "if r0 == 0 goto out\n" + REL,
    ),
    _k("atomic_add_kptr", "r1 = 1\nlock *(u64 *)(r6 + 8) += r1\n"),
    _k("xchg_ref", ACQ + "if r0 == 0 goto out\nr2 = r0\n" + XCHG + "if r0 == 0 goto out\n" + REL),
    _k("xchg_ref_leak_old", ACQ + "if r0 == 0 goto out\nr2 = r0\n" + XCHG),
    _k("xchg_null", "r2 = 0\n" + XCHG + "if r0 == 0 goto out\n" + REL),
    _k(
        "xchg_unref_field",
        ACQ + "if r0 == 0 goto out\nr2 = r0\nr1 = r6\nr1 += 8\ncall bpf_kptr_xchg\n",
    ),
    _k("xchg_not_kptr", "r2 = 0\nr1 = r6\ncall bpf_kptr_xchg\n"),
    _k("xchg_unreferenced", CUR + "r2 = r0\n" + XCHG + "if r0 == 0 goto out\n" + REL),
    _k("xchg_maybe_null", ACQ + "r2 = r0\n" + XCHG),
    _k("xchg_no_btf", "r2 = 0\n" + XCHG, NOBTF),
    _k("xchg_no_kptr", "r2 = 0\n" + XCHG, PLAIN),
    _k(
        "xchg_use_after_store",
        ACQ
        + "if r0 == 0 goto out\nr7 = r0\nr2 = r0\n"
        + XCHG
        + "if r0 == 0 goto out\n"
        + REL
        + "r0 = *(u32 *)(r7 + {off:task_struct.pid})\n",
    ),
    _k(
        "helper_reads_kptr",
        "r1 = map[idx:0]\nr2 = r10\nr2 += -4\nr3 = r6\nr4 = 0\ncall bpf_map_update_elem\n",
    ),
    _k("var_off_over_kptr", "r1 = *(u32 *)(r6 + 0)\nr1 &= 8\nr6 += r1\nr2 = *(u64 *)(r6 + 0)\n"),
    _k("hash_ldx_unref", "r1 = *(u64 *)(r6 + 8)\n", HASH),
    _k(
        "hash_xchg_ref",
        ACQ + "if r0 == 0 goto out\nr2 = r0\n" + XCHG + "if r0 == 0 goto out\n" + REL,
        HASH,
    ),
    _k("plain_u64_fields_untouched", "r1 = *(u64 *)(r6 + 0)\n*(u64 *)(r6 + 0) = r1\n"),
)


def test_pybpf_answers_are_the_kernels_recorded() -> None:
    bad = recorded_mismatches("kptr_kernel", CASES)
    if bad is None:
        pytest.skip("no recorded kernel answers")
    assert not bad, bad


@pytest.mark.kernel
def test_pybpf_answers_are_the_live_kernels() -> None:
    from pybpf import oracle

    if not oracle.available():
        pytest.skip(oracle.unavailable_reason())
    bad = live_mismatches(CASES)
    assert not bad, bad


def test_kptr_load_types() -> None:
    """Loads: untrusted for a plain kptr; RCU for a referenced one in an RCU section."""
    from pybpf.isa.asm_c import assemble_c
    from pybpf.kernel.vmlinux import kernel_btf
    from pybpf.maps import MapSpec, create_map, describe_map_btf
    from pybpf.verifier import verify

    from .kptr_harness import _resolve, value_btf

    btf, kid, vid = value_btf(SLOTS)
    m = create_map(MapSpec(MapType.ARRAY, 4, 24, 1, 0, "m", btf=describe_map_btf(btf, kid, vid)))
    text = _resolve(LOOKUP + "r1 = *(u64 *)(r6 + 8)\nr2 = *(u64 *)(r6 + 16)\n" + END, kernel_btf())
    res = verify(assemble_c(text), "tracepoint", maps=[m], log_level=2)
    assert res.accepted, res.message
    assert "R1=untrusted_ptr_or_null_task_struct(id=" in res.log
    assert "R2=rcu_ptr_or_null_task_struct(id=" in res.log


if __name__ == "__main__":
    record("kptr_kernel", CASES)
