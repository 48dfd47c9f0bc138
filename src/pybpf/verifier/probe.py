"""Which loads run as the kernel's probe loads (``BPF_PROBE_MEM``/``BPF_PROBE_MEMSX``).

A load through a BTF pointer the verifier cannot vouch for (a plain or untrusted
``PTR_TO_BTF_ID``, an untrusted allocated object, untrusted read-only memory) is rewritten by the kernel into a
load with an exception-table entry: a bad address never faults, the destination reads 0.
The decision rests on the pointer type the verifier saved for the instruction, matched
exactly: trusted, RCU and referenced pointers keep their plain loads.

The runtime runs the program as given (relocated, not the fixed-up copy), so the marks are
indices of the original instructions; the xlated dump stays as ``bpftool`` shows it, with
these loads as ordinary ``ldx``.
"""

from __future__ import annotations

from ..isa.opcodes import InsnClass, Mode
from ..kernel.regtypes import RegType, TypeFlag
from .env import Env

_BTF = int(RegType.PTR_TO_BTF_ID)
_UNTRUSTED = int(TypeFlag.PTR_UNTRUSTED)
_UNTRUSTED_RDONLY_MEM = int(RegType.PTR_TO_MEM) | int(TypeFlag.MEM_RDONLY) | _UNTRUSTED
PROBE_TYPES = frozenset(
    {_BTF, _BTF | _UNTRUSTED, _BTF | int(TypeFlag.MEM_ALLOC) | _UNTRUSTED, _UNTRUSTED_RDONLY_MEM}
)
"""The saved pointer types whose loads the kernel (6.18) turns into probe loads; the last
is untrusted read-only memory (a BTF pointer cast to an untyped one)."""


def probe_loads(env: Env | None) -> frozenset[int]:
    """Indices of the loads of ``env``'s program that read 0 instead of faulting."""
    if env is None:
        return frozenset()
    out = set()
    for i, (insn, aux) in enumerate(zip(env.insns, env.aux, strict=False)):
        if (
            insn.cls == InsnClass.LDX
            and insn.mode in (Mode.MEM, Mode.MEMSX)
            and aux.ptr_type in PROBE_TYPES
        ):
            out.add(i)
    return frozenset(out)
