"""Open-coded iterators (``bpf_iter_num_*``): the loop converges at ``_next``, misuse is
refused with the kernel's messages, and the kfuncs compute what the kernel's do.

The assembly cases are compared with the running kernel (recorded in
tests/data/verifier/iters_kernel.json; regenerate with
``python -m tests.verifier.test_iters`` where bpf() works).
"""

from __future__ import annotations

import pytest

from pybpf.isa.asm_c import assemble_c
from pybpf.verifier import verify

from .kptr_harness import Case, live_mismatches, record, recorded_mismatches

RT = "raw_tracepoint"
FP8 = "r1 = r10\nr1 += -8\n"
NEW = FP8 + "r2 = 0\nr3 = 10\ncall kernel-function#{kf:bpf_iter_num_new}\n"
NEXT = FP8 + "call kernel-function#{kf:bpf_iter_num_next}\n"
DESTROY = FP8 + "call kernel-function#{kf:bpf_iter_num_destroy}\n"
END = "r0 = 0\nexit\n"
# new; loop: next; if NULL leave; read the value; back to next; leave: destroy
FP16 = "r1 = r10\nr1 += -16\n"
BITS_NEW = (
    "r2 = 0x5a\n*(u64 *)(r10 -24) = r2\n"
    + FP16
    + "r2 = r10\nr2 += -24\nr3 = 1\ncall kernel-function#{kf:bpf_iter_bits_new}\n"
)
BITS_NEXT = FP16 + "call kernel-function#{kf:bpf_iter_bits_next}\n"
BITS_DESTROY = FP16 + "call kernel-function#{kf:bpf_iter_bits_destroy}\n"
LOOP = NEW + NEXT + "if r0 == 0 goto +2\nr6 = *(u32 *)(r0 +0)\ngoto -6\n" + DESTROY + END


def _c(name: str, text: str, prog_type: str = RT) -> Case:
    return Case(name, prog_type, text)


CASES: tuple[Case, ...] = (
    _c("loop", LOOP),
    _c(
        "loop_sums_values",
        NEW
        + "r7 = 0\n"
        + NEXT
        + "if r0 == 0 goto +3\nr6 = *(u32 *)(r0 +0)\nr7 += r6\ngoto -7\n"
        + DESTROY
        + "r0 = r7\nexit\n",
    ),
    _c("next_result_only_tested", NEW + NEXT + "if r0 != 0 goto -4\n" + DESTROY + END),
    _c("leak", NEW + END),
    _c("leak_after_loop", NEW + NEXT + "if r0 == 0 goto +1\ngoto -5\n" + END),
    _c("next_without_new", NEXT + END),
    _c("destroy_without_new", DESTROY + END),
    _c("double_new", NEW + NEW + DESTROY + END),
    _c("double_destroy", NEW + DESTROY + DESTROY + END),
    _c("next_after_destroy", NEW + DESTROY + NEXT + END),
    _c("read_iter_slot", NEW + "r0 = *(u64 *)(r10 -8)\n" + DESTROY + END),
    _c("overwrite_iter_slot", NEW + "r1 = 0\n*(u64 *)(r10 -8) = r1\n" + NEXT + END),
    _c(
        "arg_not_on_stack",
        "r1 = 0\nr2 = 0\nr3 = 1\ncall kernel-function#{kf:bpf_iter_num_new}\n" + END,
    ),
    _c(
        "arg_misaligned",
        "r1 = r10\nr1 += -12\nr2 = 0\nr3 = 1\ncall kernel-function#{kf:bpf_iter_num_new}\n" + END,
    ),
    _c("value_needs_null_check", NEW + NEXT + "r6 = *(u32 *)(r0 +0)\n" + DESTROY + END),
    _c(
        "value_is_read_only",
        NEW + NEXT + "if r0 == 0 goto +2\nr1 = 1\n*(u32 *)(r0 +0) = r1\n" + DESTROY + END,
    ),
    _c(
        "value_gone_after_destroy",
        NEW + NEXT + "r7 = r0\n" + DESTROY + "if r7 == 0 goto +1\nr6 = *(u32 *)(r7 +0)\n" + END,
    ),
    _c(
        "out_of_bounds_in_loop",
        NEW + NEXT + "if r0 == 0 goto +2\nr6 = *(u32 *)(r0 +4)\ngoto -6\n" + DESTROY + END,
    ),
    _c("may_goto_self", "r0 = 0\nmay_goto -1\nexit\n", "socket_filter"),
    _c(
        "bits_loop",
        BITS_NEW
        + BITS_NEXT
        + "if r0 == 0 goto +2\nr6 = *(u32 *)(r0 +0)\ngoto -6\n"
        + BITS_DESTROY
        + END,
    ),
    _c(
        "bits_one_slot_is_too_small",
        "r1 = r10\nr1 += -8\nr2 = r10\nr2 += -24\nr3 = 1\n"
        "call kernel-function#{kf:bpf_iter_bits_new}\n" + END,
    ),
    _c(
        "bits_as_num",
        BITS_NEW
        + "r1 = r10\nr1 += -16\ncall kernel-function#{kf:bpf_iter_num_next}\n"
        + BITS_DESTROY
        + END,
    ),
)


def test_pybpf_answers_are_the_kernels_recorded() -> None:
    bad = recorded_mismatches("iters_kernel", CASES)
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


def _pybpf(text: str, level: int = 2) -> tuple[bool, str, str]:
    from pybpf.kernel.vmlinux import kernel_btf

    from .kptr_harness import _resolve

    res = verify(assemble_c(_resolve(text, kernel_btf())), RT, log_level=level)
    return res.accepted, res.message, res.log


def test_state_log_shows_the_iterator_slot() -> None:
    ok, msg, log = _pybpf(LOOP)
    assert ok, msg
    assert "fp-8=iter_num(ref_id=1,state=active,depth=0)" in log
    assert "fp-8=iter_num(ref_id=1,state=drained,depth=0)" in log
    assert "state=active,depth=1" in log


def test_leak_names_the_iterators_reference() -> None:
    ok, msg, log = _pybpf(NEW + END, level=1)
    assert not ok
    assert "Unreleased reference id=1 alloc_insn=4" in log
    assert msg == "BPF_EXIT instruction in main prog would lead to reference leak"


def test_loop_converges_in_few_instructions() -> None:
    """The loop is proven in a couple of rounds, not unrolled ten times."""
    from pybpf.kernel.vmlinux import kernel_btf

    from .kptr_harness import _resolve

    res = verify(assemble_c(_resolve(LOOP, kernel_btf())), RT)
    assert res.accepted
    assert res.insns_processed < 40


# --- the run-time side -----------------------------------------------------------------


def _run_iter(start: int, end: int, nexts: int) -> tuple[int, list[int], list[int]]:
    """``_new(start, end)`` then ``nexts`` calls of ``_next``: what each returned, and
    the iterator's two words after each."""
    from pybpf.kernel.env import RunEnv
    from pybpf.kernel.vmlinux import iter_kfuncs as k
    from pybpf.memory import MEMORY, Region, RegionKind

    region = MEMORY.add(Region(8, RegionKind.STACK, "test iter"))
    try:
        it = region.base
        env = RunEnv(None)  # type: ignore[arg-type]
        ret = k._num_new(env, it, start & 0xFFFFFFFF, end & 0xFFFFFFFF, 0, 0)
        values = []
        for _ in range(nexts):
            p = k._num_next(env, it, 0, 0, 0, 0)
            if p == 0:
                values.append(-1)
                continue
            assert p == it
            v = MEMORY.load(p, 4)
            values.append(v - (1 << 32) if v >> 31 else v)
        words = [MEMORY.load(it, 4), MEMORY.load(it + 4, 4)]
        return ret, values, words
    finally:
        MEMORY.remove(region)


def test_num_iterator_run_time() -> None:
    assert _run_iter(0, 3, 5) == (0, [0, 1, 2, -1, -1], [0, 0])
    assert _run_iter(-2, 1, 4) == (0, [-2, -1, 0, -1], [0, 0])
    ret, vals, _ = _run_iter(5, 4, 2)
    assert ret == (-22) & 0xFFFFFFFF and vals == [-1, -1]
    ret, vals, _ = _run_iter(-(1 << 31), (1 << 31) - 1, 1)
    assert ret == (-7) & 0xFFFFFFFF and vals == [-1]
    # the range starting at INT_MIN: the first value is INT_MIN (32-bit wrap of start - 1)
    assert _run_iter(-(1 << 31), -(1 << 31) + 2, 3)[1] == [-(1 << 31), -(1 << 31) + 1, -1]
    assert _run_iter(0, 8 * 1024 * 1024, 1)[0] == 0


if __name__ == "__main__":
    record("iters_kernel", CASES)


def _bits(words: list[int], nr_words: int | None = None) -> tuple[int, list[int]]:
    """``bpf_iter_bits_new`` over ``words``, then ``_next`` until NULL, then ``_destroy``."""
    from pybpf.kernel.env import RunEnv
    from pybpf.kernel.vmlinux import iter_kfuncs as k
    from pybpf.memory import MEMORY, Region, RegionKind

    data = b"".join(w.to_bytes(8, "little") for w in words)
    src = MEMORY.add(Region(max(len(data), 8), RegionKind.STACK, "words", data=data or None))
    region = MEMORY.add(Region(16, RegionKind.STACK, "test bits iter"))
    env = RunEnv(None)  # type: ignore[arg-type]
    try:
        it = region.base
        n = len(words) if nr_words is None else nr_words
        ret = k._bits_new(env, it, src.base, n, 0, 0)
        bits = []
        while (p := k._bits_next(env, it, 0, 0, 0, 0)) != 0:
            bits.append(MEMORY.load(p, 4))
            assert len(bits) <= 64 * len(words)
        k._bits_destroy(env, it, 0, 0, 0, 0)
        return ret, bits
    finally:
        MEMORY.remove(region)
        MEMORY.remove(src)


def test_bits_iterator_run_time() -> None:
    assert _bits([0b1011]) == (0, [0, 1, 3])
    assert _bits([1 << 63, 1, 1 << 5]) == (0, [63, 64, 133])
    assert _bits([0, 0]) == (0, [])
    assert _bits([1], nr_words=0) == ((-22) & 0xFFFFFFFF, [])
    assert _bits([1] * 512) == ((-7) & 0xFFFFFFFF, [])
    assert _bits([1] * 511)[1] == [64 * i for i in range(511)]
