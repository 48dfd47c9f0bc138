"""Helpers every program type has: time, randomness, CPU and task ids, tracing, memory."""

from __future__ import annotations

import errno
import os
import threading

from ...errors import MemoryFault
from ...memory import MEMORY
from ..env import RunEnv
from .printk import format_printk
from .registry import helper, neg


@helper("ktime_get_ns")
def ktime_get_ns(env: RunEnv, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    return env.kernel.ktime_ns()


@helper("ktime_get_boot_ns")
def ktime_get_boot_ns(env: RunEnv, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    return env.kernel.boot_ns()


@helper("ktime_get_coarse_ns")
def ktime_get_coarse_ns(env: RunEnv, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    return env.kernel.ktime_ns()


@helper("get_prandom_u32")
def get_prandom_u32(env: RunEnv, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    return env.kernel.prandom[env.cpu].next_u32()


@helper("get_smp_processor_id")
def get_smp_processor_id(env: RunEnv, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    return env.cpu


@helper("get_numa_node_id")
def get_numa_node_id(env: RunEnv, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    return 0


@helper("get_current_pid_tgid")
def get_current_pid_tgid(env: RunEnv, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    return (os.getpid() << 32) | threading.get_native_id()


@helper("get_current_uid_gid")
def get_current_uid_gid(env: RunEnv, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    return (os.getgid() << 32) | os.getuid()


@helper("get_current_comm")
def get_current_comm(env: RunEnv, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    size = r2 & 0xFFFFFFFF
    if size == 0:
        return 0
    comm = env.kernel.trace.comm.encode()[: size - 1]
    try:
        MEMORY.write(r1, comm + bytes(size - len(comm)), env.pc)
    except MemoryFault:
        return neg(errno.EFAULT)
    return 0


@helper("trace_printk")
def trace_printk(env: RunEnv, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    size = r2 & 0xFFFFFFFF
    try:
        fmt = MEMORY.read(r1, size, env.pc)
    except MemoryFault:
        return neg(errno.EFAULT)
    if not fmt or fmt[-1] != 0:
        return neg(errno.EINVAL)
    text = format_printk(fmt[: fmt.index(b"\0")], [r3, r4, r5])
    if text is None:
        return neg(errno.EINVAL)
    env.kernel.trace.emit(env.kernel.ktime_ns(), env.cpu, text.rstrip("\n"))
    return len(text.encode())


def _probe_read(env: RunEnv, dst: int, size: int, src: int, as_str: bool) -> int:
    size &= 0xFFFFFFFF
    if size == 0:
        return 0
    try:
        if as_str:
            data = MEMORY.read_cstr(src, size, env.pc)[: size - 1] + b"\0"
        else:
            data = MEMORY.read(src, size, env.pc)
    except MemoryFault:
        MEMORY.write(dst, bytes(size), env.pc)
        return neg(errno.EFAULT)
    MEMORY.write(dst, data, env.pc)
    return len(data) if as_str else 0


@helper("probe_read_kernel")
def probe_read_kernel(env: RunEnv, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    return _probe_read(env, r1, r2, r3, False)


@helper("probe_read")
def probe_read(env: RunEnv, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    return _probe_read(env, r1, r2, r3, False)


@helper("probe_read_kernel_str")
def probe_read_kernel_str(env: RunEnv, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    return _probe_read(env, r1, r2, r3, True)


HZ = 250  # the tick rate of the kernels pybpf models (Debian's CONFIG_HZ_250)
INITIAL_JIFFIES = (1 << 32) - 300 * HZ  # jiffies start 5 minutes before the 32-bit wrap


@helper("jiffies64")
def jiffies64(env: RunEnv, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    return INITIAL_JIFFIES + env.kernel.ktime_ns() * HZ // 1_000_000_000
