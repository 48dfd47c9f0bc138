"""Reading an iterator file: the kernel's ``bpf_seq_read`` over a target's objects.

Each read fills the 32 KiB ``seq_file`` buffer with what the program prints for one
object after another, until the buffer holds at least what the reader asked for, the
objects run out, or an object's output does not fit.  Output that does not fit is
dropped and that object is shown again by the next read; an object whose output alone
does not fit fails the read with E2BIG.  A program returning non-zero asks for its
object to be shown again (EAGAIN if nothing was printed before it).  When the objects
run out, the program runs once more with no object (``seq_num`` counting on); its
output ends the file.  ``meta->seq_num`` counts the objects shown; ``session_id``
numbers the files opened.  The socket targets open with a start token that is counted
but not shown, and skip a socket closed after the walk reached it: the next object takes
its number (:mod:`.socks`).
"""

from __future__ import annotations

import errno
from itertools import count
from typing import TYPE_CHECKING, Any

from ..errors import BpfError
from ..kernel.helpers.seq import SEQ_BUF_SIZE, SeqFile, new_seq_file
from ..kernel.vmlinux import alloc_object, offsetof
from ..memory import MEMORY, RegionKind, allocate
from .socks import SEQ_START_TOKEN
from .targets import make_walk

if TYPE_CHECKING:
    from .link import IterLink

MAX_ITER_OBJECTS = 1_000_000
SEQ_SKIP = 1
_SESSION_IDS = count(1)


class IterFile:
    """One opened iterator (``BPF_ITER_CREATE``'s file): :meth:`read` as ``read(2)``."""

    def __init__(self, link: IterLink, session: int = 0) -> None:
        self.link = link
        self.session_id = next(_SESSION_IDS)
        self.seq = SeqFile(SEQ_BUF_SIZE)
        self.seq_obj = new_seq_file(self.seq)
        self.meta = alloc_object("bpf_iter_meta", name="bpf_iter_meta")
        self.meta_seq_off = offsetof("bpf_iter_meta", "seq")
        self.meta.region.buf[self.meta_seq_off : self.meta_seq_off + 8] = (
            self.seq_obj.address.to_bytes(8, "little")
        )
        nslots = len(link.target.args)
        self.ctx = allocate(8 * nslots, RegionKind.CTX, link.target.ctx_struct, False)
        self.walk: Any = make_walk(link.target.name, link.kernel, link.map, link.task_tid,
                                   link.task_pid)  # fmt: skip
        self.seq_num = 0
        self.token = int(getattr(self.walk, "token", False))
        self.done_stop = False
        self.pending = b""
        self.closed = False

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.walk.close()
        MEMORY.remove(self.ctx)
        self.meta.free()
        self.seq_obj.free()

    # -- running the program ---------------------------------------------------------------
    def _run(self, obj: Any) -> int:
        """``bpf_iter_run_prog``: 0, or -EAGAIN when the program asks for a retry."""
        from ..vm.tiers import runner_for

        slots = [self.meta.address, *self.walk.context(obj)][: len(self.link.target.args)]
        self.ctx.buf[:] = b"".join(s.to_bytes(8, "little") for s in slots)
        self.meta.region.buf[8:16] = self.session_id.to_bytes(8, "little")
        # the socket targets' start token counts but is never shown (seq_num - 1)
        seq_num = (self.seq_num - self.token) & 0xFFFFFFFFFFFFFFFF
        self.meta.region.buf[16:24] = seq_num.to_bytes(8, "little")
        prog = self.link.prog
        runner = runner_for(prog.kernel)
        runner.prepare(prog.executable)
        r0 = runner.run(prog.executable, self.ctx.base, cpu=0)
        return 0 if r0 & 0xFFFFFFFF == 0 else -errno.EAGAIN

    def _show(self, obj: Any) -> int:
        """0 or -errno; SEQ_SKIP (1) for a socket closed since the walk reached it."""
        if obj is SEQ_START_TOKEN:
            return 0
        if self.token and self.walk.closed(obj):
            return SEQ_SKIP
        return self._run(obj)

    def _stop(self, obj: Any) -> None:
        if obj is None and not self.done_stop:
            self._run(None)

    # -- bpf_seq_read ------------------------------------------------------------------
    def read(self, size: int) -> bytes:
        """Up to ``size`` bytes of output; b"" at the end.  Errors raise BpfError."""
        if self.closed:
            raise BpfError(errno.EBADF, "iterator file is closed")
        if size <= 0:
            return b""
        if self.pending:
            out, self.pending = self.pending[:size], self.pending[size:]
            return out
        seq = self.seq
        seq.take()
        err = self._fill(size)
        data = seq.take()
        if err and not data:
            raise BpfError(-err, _read_error(-err))
        out, self.pending = data[:size], data[size:]
        return out

    def _fill(self, size: int) -> int:
        seq = self.seq
        p = self.walk.start()
        if p is not None:
            err = self._show(p)
            if err > 0:
                self.seq_num -= 1  # the next object takes the skipped one's number
                seq.truncate(0)
            elif err < 0 or seq.has_overflowed():
                self._stop(p)
                seq.truncate(0)
                return err or -errno.E2BIG
            num_objs = 0
            while True:
                num_objs += 1
                offs = seq.count
                p = self.walk.next()
                if p is None:
                    break
                self.seq_num += 1
                if seq.count >= size:
                    break
                if num_objs >= MAX_ITER_OBJECTS:
                    if offs == 0:
                        self._stop(p)
                        return -errno.EAGAIN
                    break
                err = self._show(p)
                if err > 0:
                    self.seq_num -= 1
                    seq.truncate(offs)
                elif err < 0 or seq.has_overflowed():
                    seq.truncate(offs)
                    if offs == 0:
                        self._stop(p)
                        return err or -errno.E2BIG
                    break
        offs = seq.count
        self._stop(p)
        if p is None:
            if not seq.has_overflowed():
                self.done_stop = True
            else:
                seq.truncate(offs)
                if offs == 0:
                    return -errno.E2BIG
        return 0

    def read_all(self, chunk: int = 1 << 17) -> bytes:
        """Read until the end, ``chunk`` bytes a call (``cat`` asks for 128 KiB)."""
        parts: list[bytes] = []
        while True:
            data = self.read(chunk)
            if not data:
                return b"".join(parts)
            parts.append(data)


def _read_error(err: int) -> str:
    if err == errno.E2BIG:
        return "read: one object's output does not fit the iterator's 32 KiB buffer (E2BIG)"
    if err == errno.EAGAIN:
        return "read: the program asked to show its object again before printing anything (EAGAIN)"
    return f"read: iterator failed ({errno.errorcode.get(err, err)})"
