"""Loading a program into the simulated kernel: ``BPF_PROG_LOAD`` without the syscall.

A load checks the instructions, runs the verifier (a rejection raises
:class:`ProgramRejected` with the kernel's errno, message and log), resolves every map
reference of a 64-bit immediate load (by fd, or by index into the ``maps`` list as the
kernel's ``fd_array`` does) to the map's address or a map-value address, and gives the
program an id and an fd.  The result runs with the semantics of ``BPF_PROG_TEST_RUN``.

``verify=False`` loads without the verifier's guarantees: the runtime still faults
cleanly on any access outside every region, so a rejected program can be run on purpose.
"""

from __future__ import annotations

import errno
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import BpfError
from .isa.insn import Insn, check_program, lddw, lddw_value
from .isa.opcodes import OPCODE_CALL, PseudoCall, PseudoLdImm64
from .kernel.progtypes import AttachType, ProgType
from .kernel.state import Kernel, default_kernel
from .maps.base import Map
from .vm.executable import Executable

if TYPE_CHECKING:
    from .verifier.core import VerifyResult
    from .verifier.env import Options
    from .vm.testrun import TestRunResult


class ProgramRejected(BpfError):
    """The verifier refused the program: the kernel's errno and message, and the log."""

    def __init__(self, result: VerifyResult) -> None:
        super().__init__(result.errno, result.message or "program rejected by the verifier")
        self.result = result

    @property
    def log(self) -> str:
        return self.result.log


def resolve_map_reference(insn: Insn, second: Insn, maps: Sequence[Map], kernel: Kernel) -> Map:
    """The map a pseudo ``lddw`` names, by fd or by index into ``maps``."""
    if insn.src in (PseudoLdImm64.MAP_IDX, PseudoLdImm64.MAP_IDX_VALUE):
        if not 0 <= insn.imm < len(maps):
            raise BpfError(errno.EBADF, "fd -1 is not pointing to valid bpf_map")
        return maps[insn.imm]
    obj = kernel._fds.get(insn.imm)
    if not isinstance(obj, Map):
        raise BpfError(errno.EBADF, f"fd {insn.imm} is not pointing to valid bpf_map")
    return obj


def relocate(insns: Sequence[Insn], maps: Sequence[Map], kernel: Kernel) -> tuple[list[Insn], list[Map]]:
    """Instructions with map references replaced by addresses, and the maps used."""
    out = list(insns)
    used: list[Map] = []
    i = 0
    while i < len(out):
        insn = out[i]
        if insn.is_lddw and insn.src in (
            PseudoLdImm64.MAP_FD, PseudoLdImm64.MAP_IDX,
            PseudoLdImm64.MAP_VALUE, PseudoLdImm64.MAP_IDX_VALUE,
        ):  # fmt: skip
            m = resolve_map_reference(insn, out[i + 1], maps, kernel)
            if m not in used:
                used.append(m)
            if insn.src in (PseudoLdImm64.MAP_FD, PseudoLdImm64.MAP_IDX):
                address = m.address
            else:
                offset = out[i + 1].imm & 0xFFFFFFFF
                address = m.direct_value_addr(offset)
            out[i], out[i + 1] = lddw(insn.dst, address)
            i += 2
            continue
        if insn.src == PseudoCall.KFUNC_CALL and insn.code == OPCODE_CALL:
            from .kernel.vmlinux.runtime import kfunc_call_insn

            out[i] = kfunc_call_insn(insn)  # kfuncs run through helper slots
        i += 2 if insn.is_lddw else 1
    return out, used


@dataclass(eq=False)
class Program:
    """A loaded program: its instructions as given, as run, and the maps it uses."""

    kernel: Kernel
    prog_type: ProgType
    insns: list[Insn]
    xlated: list[Insn]
    maps: list[Map]
    name: str = ""
    expected_attach_type: AttachType | None = None
    id: int = 0
    fd: int = 0
    executable: Executable = field(init=False)
    info: dict[str, Any] = field(default_factory=dict)
    verified: VerifyResult | None = None
    """The verifier's answer (log, processed instructions); None when loaded unchecked."""

    def __post_init__(self) -> None:
        self.executable = Executable(self.xlated, self.name, self.prog_type, owner=self)

    def run(
        self, data: bytes = b"", ctx: bytes | None = None, repeat: int = 1, cpu: int = 0
    ) -> TestRunResult:
        """One ``BPF_PROG_TEST_RUN``: the program type decides what ``data`` and ``ctx`` are."""
        from .vm.testrun import test_run

        return test_run(self, data=data, ctx=ctx, repeat=repeat, cpu=cpu)


def load_program(
    insns: Sequence[Insn],
    prog_type: ProgType | str,
    *,
    maps: Sequence[Map] = (),
    kernel: Kernel | None = None,
    name: str = "",
    expected_attach_type: AttachType | None = None,
    verify: bool = True,
    log_level: int = 0,
    options: Options | None = None,
) -> Program:
    """Check, verify, relocate and register a program, as ``BPF_PROG_LOAD`` does."""
    kernel = kernel or default_kernel()
    if isinstance(prog_type, str):
        from .kernel.progtypes import prog_type_from_name

        prog_type = prog_type_from_name(prog_type)
    check_program(insns)
    verified = None
    if verify:
        from .verifier import verify as run_verifier

        verified = run_verifier(
            list(insns), prog_type, maps=maps, kernel=kernel,
            expected_attach_type=expected_attach_type, log_level=log_level, options=options,
        )  # fmt: skip
        if not verified.accepted:
            raise ProgramRejected(verified)
    xlated, used = relocate(insns, maps, kernel)
    prog = Program(kernel, prog_type, list(insns), xlated, used, name, expected_attach_type)
    prog.verified = verified
    if verified is not None:
        from .verifier.probe import probe_loads

        prog.executable.probe_loads = probe_loads(verified.env)
    prog.id = kernel.new_id("prog")
    prog.fd = kernel.install_fd(prog)
    kernel.programs[prog.id] = prog
    return prog


def lddw_target(insns: Sequence[Insn], i: int) -> int:
    """The 64-bit immediate of the ``lddw`` at slot ``i``."""
    return lddw_value(insns[i], insns[i + 1])
