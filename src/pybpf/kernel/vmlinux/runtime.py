"""What kfuncs do when a program runs, and ``bpf_kptr_xchg``.

A kfunc call runs like a helper call: the loader rewrites ``call <kfunc btf id>`` into a
call of a helper slot that only this module fills (:func:`kfunc_call_insn`), so every
execution tier dispatches it the way it dispatches helpers.  The implementations model
the kernel's reference counting on the objects' own ``refcount_t`` fields, and record
every acquire and release in :data:`LEDGER`, which tests read to check that each
reference a program or a map took is given back exactly once.

Only the kfuncs programs need to run the selftests' object tests are implemented
(the test object of ``bpf_testmod``, tasks, cgroups, RCU and preemption sections);
calling another one faults with ENOTSUP at run time.
"""

from __future__ import annotations

import errno
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from ...isa.insn import Insn
from ...isa.opcodes import InsnClass, JmpOp, PseudoCall
from ...memory import MEMORY
from ..env import RunEnv
from ..helpers.registry import HELPERS, Helper, helper
from .build import kfunc_by_id
from .kfuncs import KfuncDesc
from .objects import KObject, alloc_object, object_at

KFUNC_HELPER_BASE = 0x100000
"""Helper slots ``KFUNC_HELPER_BASE + btf id`` hold the kfuncs (beyond every helper id)."""

REFCOUNT_FIELD = {
    "task_struct": "usage.refs.counter",
    "prog_test_ref_kfunc": "cnt.refs.counter",
    "bpf_testmod_ctx": "usage.refs.counter",
}
"""The ``refcount_t`` the kernel counts an object's references in."""

KfuncFn = Callable[[RunEnv, int, int, int, int, int], int]


@dataclass
class Ledger:
    """Every reference taken and given back, by object address."""

    acquired: Counter[int] = field(default_factory=Counter)
    released: Counter[int] = field(default_factory=Counter)

    def outstanding(self) -> dict[int, int]:
        """Objects with more references taken than given back (or the reverse)."""
        keys = set(self.acquired) | set(self.released)
        return {
            a: self.acquired[a] - self.released[a]
            for a in keys
            if self.acquired[a] != self.released[a]
        }

    def clear(self) -> None:
        self.acquired.clear()
        self.released.clear()


LEDGER = Ledger()
KFUNC_IMPLS: dict[str, KfuncFn] = {}


def kfunc_impl(name: str) -> Callable[[KfuncFn], KfuncFn]:
    def register(fn: KfuncFn) -> KfuncFn:
        KFUNC_IMPLS[name] = fn
        return fn

    return register


def _refs(obj: KObject) -> str | None:
    return REFCOUNT_FIELD.get(obj.type_name)


def get_ref(addr: int) -> int:
    """Take a reference to the object at ``addr`` if it is still alive (its count is not
    zero): the address, or 0 (``refcount_inc_not_zero``)."""
    obj = object_at(addr)
    if obj is None:
        return 0
    path = _refs(obj)
    if path is not None:
        n = obj[path]
        if n <= 0:
            return 0
        obj[path] = n + 1
    LEDGER.acquired[addr] += 1
    return addr


def put_ref(addr: int) -> None:
    """Give a reference back (``refcount_dec``)."""
    obj = object_at(addr)
    if obj is None:
        return
    path = _refs(obj)
    if path is not None:
        obj[path] = obj[path] - 1
    LEDGER.released[addr] += 1


def new_ref(obj: KObject) -> int:
    """A freshly created object handed to the program with one reference."""
    LEDGER.acquired[obj.address] += 1
    return obj.address


_TEST_OBJ: list[KObject] = []


def test_object() -> KObject:
    """The test object ``bpf_kfunc_call_test_acquire`` hands out (one for the process,
    holding one reference of its own, as the kernel's static ``prog_test_struct``)."""
    if not _TEST_OBJ or not _TEST_OBJ[0].alive:
        obj = alloc_object("prog_test_ref_kfunc", a=42, b=108)
        obj["cnt.refs.counter"] = 1
        obj["next"] = obj.address  # the kernel's static test object points to itself
        _TEST_OBJ[:] = [obj]
    return _TEST_OBJ[0]


def reset_test_object() -> KObject:
    """A fresh test object with its own single reference (a new kernel boot, for tests)."""
    if _TEST_OBJ:
        _TEST_OBJ[0].free()
        _TEST_OBJ.clear()
    return test_object()


def _acquire(env: RunEnv, p: int, *_: int) -> int:
    return get_ref(p)


def _release(env: RunEnv, p: int, *_: int) -> int:
    put_ref(p)
    return 0


def _noop(env: RunEnv, *_: int) -> int:
    return 0


for _name in ("bpf_task_acquire", "bpf_cgroup_acquire"):
    kfunc_impl(_name)(_acquire)
for _name in ("bpf_task_release", "bpf_cgroup_release", "bpf_kfunc_call_test_release",
              "bpf_kfunc_call_memb_release", "bpf_testmod_ctx_release"):  # fmt: skip
    kfunc_impl(_name)(_release)
for _name in ("bpf_rcu_read_lock", "bpf_rcu_read_unlock", "bpf_preempt_disable", "bpf_preempt_enable",
              "bpf_kfunc_call_test_ref", "bpf_kfunc_common_test", "bpf_kfunc_call_test_pass_ctx",
              "bpf_kfunc_call_test_pass1", "bpf_kfunc_call_test_pass2", "bpf_kfunc_call_test_mem_len_pass1",
              "bpf_kfunc_trusted_task_test", "bpf_kfunc_rcu_task_test", "bpf_testmod_test_mod_kfunc"):  # fmt: skip
    kfunc_impl(_name)(_noop)


@kfunc_impl("bpf_kfunc_call_test_acquire")
def _test_acquire(env: RunEnv, scalar_ptr: int, *_: int) -> int:
    return get_ref(test_object().address)


@kfunc_impl("bpf_kfunc_call_memb_acquire")
def _memb_acquire(env: RunEnv, *_: int) -> int:
    return 0  # the kernel's test function hands out nothing


@kfunc_impl("bpf_kfunc_call_test_get_rdwr_mem")
def _get_mem(env: RunEnv, p: int, size: int, *_: int) -> int:
    return p if size <= 8 else 0  # the object's first two ints


kfunc_impl("bpf_kfunc_call_test_get_rdonly_mem")(_get_mem)


@kfunc_impl("bpf_kfunc_call_test_acq_rdonly_mem")
def _acq_mem(env: RunEnv, p: int, size: int, *_: int) -> int:
    return get_ref(p) if size <= 8 else 0


@kfunc_impl("bpf_kfunc_call_int_mem_release")
def _int_mem_release(env: RunEnv, p: int, *_: int) -> int:
    put_ref(p)
    return 0


@kfunc_impl("bpf_testmod_ctx_create")
def _ctx_create(env: RunEnv, err_ptr: int, *_: int) -> int:
    obj = alloc_object("bpf_testmod_ctx")
    obj["usage.refs.counter"] = 1
    if err_ptr:
        MEMORY.store(err_ptr, 4, 0)
    return new_ref(obj)


@kfunc_impl("bpf_kfunc_call_test1")
def _test1(env: RunEnv, sk: int, a: int, b: int, c: int, d: int) -> int:
    return (a + b + c + d) & ((1 << 64) - 1)


@kfunc_impl("bpf_kfunc_call_test2")
def _test2(env: RunEnv, sk: int, a: int, b: int, *_: int) -> int:
    return (a + b) & 0xFFFFFFFF


@kfunc_impl("bpf_kfunc_call_test3")
def _test3(env: RunEnv, sk: int, *_: int) -> int:
    return sk


@kfunc_impl("bpf_kfunc_call_test4")
def _test4(env: RunEnv, a: int, b: int, c: int, d: int, *_: int) -> int:
    def sx(v: int, bits: int) -> int:
        v &= (1 << bits) - 1
        return v - (1 << bits) if v >> (bits - 1) else v

    return (sx(a, 8) * sx(b, 16) * sx(c, 32) * sx(d, 64)) & ((1 << 64) - 1)


# --- the dispatch ------------------------------------------------------------------------


def _unimplemented(name: str) -> KfuncFn:
    def fn(env: RunEnv, *_: int) -> int:
        from ...errors import BpfError

        raise BpfError(errno.ENOTSUP, f"kfunc {name} has no run-time implementation in pybpf")

    return fn


def kfunc_call_insn(insn: Insn) -> Insn:
    """The helper call a kfunc call runs as (the instruction unchanged if it is no kfunc
    of pybpf's kernel)."""
    if (
        insn.code != (InsnClass.JMP | JmpOp.CALL)
        or insn.src != PseudoCall.KFUNC_CALL
        or not insn.imm
    ):
        return insn
    desc = kfunc_by_id().get(insn.imm)
    if desc is None:
        return insn
    hid = KFUNC_HELPER_BASE + desc.func_id
    if hid not in HELPERS:
        HELPERS[hid] = Helper(
            hid, desc.name, KFUNC_IMPLS.get(desc.name) or _unimplemented(desc.name)
        )
    return Insn(insn.code, 0, 0, 0, hid)


def release_by_dtor(dtor: str, addr: int) -> None:
    """A map gives back an object one of its referenced kptrs held."""
    fn = KFUNC_IMPLS.get(dtor)
    if fn is not None:
        fn(RunEnv(None), addr, 0, 0, 0, 0)  # type: ignore[arg-type]


@helper("kptr_xchg")
def _kptr_xchg(env: RunEnv, dst: int, ptr: int, *_: int) -> int:
    """Store ``ptr`` in the kptr at ``dst`` and return what it held (ownership moves)."""
    old = MEMORY.load(dst, 8, env.pc)
    MEMORY.store(dst, 8, ptr, env.pc)
    return old


def _install() -> None:
    from ...maps.kptr import set_releaser

    set_releaser(release_by_dtor)


_install()


def bind_kfunc_externs(
    insns: tuple[Insn, ...], names: list[str], poison_base: int
) -> tuple[Insn, ...]:
    """A linked program's calls of extern kernel functions (``__ksym``), left by the
    linker as poisoned helper calls ``poison_base + extern index``, bound to pybpf's
    kernel as libbpf binds them: ``call`` with ``BPF_PSEUDO_KFUNC_CALL`` and the kfunc's
    BTF id.  Externs pybpf's kernel does not have stay poisoned."""
    out = list(insns)
    for i, insn in enumerate(out):
        if insn.code != (InsnClass.JMP | JmpOp.CALL) or insn.src or insn.imm < poison_base:
            continue
        idx = insn.imm - poison_base
        desc = kfunc_by_name(names[idx]) if idx < len(names) else None
        if desc is not None:
            out[i] = Insn(insn.code, 0, PseudoCall.KFUNC_CALL, 0, desc.func_id)
    return tuple(out)


def kfunc_by_name(name: str) -> KfuncDesc | None:
    from .build import kfunc

    return kfunc(name)


from . import iter_kfuncs as _iter_kfuncs  # noqa: E402,F401  (bpf_iter_num_*, bpf_iter_bits_*: registers itself)
