"""Errors that reach users: one line of text and the kernel's errno where it has one."""

from __future__ import annotations

import errno as _errno


class BpfError(Exception):
    """A failed operation, described as the kernel would describe it.

    ``errno`` is the positive errno value the kernel returns for the same failure
    (``EINVAL``, ``ENOENT``, ...); ``message`` is a single line a user can act on.
    """

    def __init__(self, err: int, message: str) -> None:
        super().__init__(message)
        self.errno = err
        self.message = message

    def __str__(self) -> str:
        return self.message

    @property
    def errno_name(self) -> str:
        return _errno.errorcode.get(self.errno, str(self.errno))


class InvalidInstruction(BpfError):
    """An instruction that no kernel would accept, named by its slot index."""

    def __init__(self, index: int, reason: str) -> None:
        super().__init__(_errno.EINVAL, f"insn {index}: {reason}")
        self.index = index
        self.reason = reason


class AsmError(BpfError):
    """Assembler input that cannot be turned into instructions."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(_errno.EINVAL, f"line {line}: {reason}" if line else reason)
        self.line = line
        self.reason = reason


class MemoryFault(BpfError):
    """A program touched memory outside every region it may use."""

    def __init__(self, pc: int, addr: int, size: int, write: bool, detail: str = "") -> None:
        kind = "write" if write else "read"
        extra = f": {detail}" if detail else ""
        super().__init__(
            _errno.EFAULT, f"insn {pc}: invalid {kind} of {size} bytes at 0x{addr:x}{extra}"
        )
        self.pc = pc
        self.addr = addr
        self.size = size
        self.write = write


class RuntimeFault(BpfError):
    """A run stopped for a reason other than memory (a helper failed, a limit was hit)."""

    def __init__(self, pc: int, reason: str, err: int = _errno.EFAULT) -> None:
        super().__init__(err, f"insn {pc}: {reason}")
        self.pc = pc
        self.reason = reason
