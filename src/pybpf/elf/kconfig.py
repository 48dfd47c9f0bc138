"""``.kconfig`` externs: the values libbpf fills in before a load.

``LINUX_KERNEL_VERSION`` and the other ``LINUX_*`` names are virtual (the loader knows
them); ``CONFIG_*`` names come from a kernel configuration.  pybpf's simulated kernel has
a small configuration of its own (:data:`DEFAULT_KCONFIG`), which a caller can extend or
override with text in the ``.config`` syntax.  An extern nobody defines is zero when it
is ``__weak`` and an error (``ESRCH``) otherwise.
"""

from __future__ import annotations

import errno
from collections.abc import Callable, Mapping

from ..errors import BpfError
from .spec import Extern, ExternKind

DEFAULT_KCONFIG: dict[str, str] = {
    "CONFIG_BPF": "y",
    "CONFIG_BPF_SYSCALL": "y",
    "CONFIG_BPF_JIT": "y",
    "CONFIG_BPF_JIT_ALWAYS_ON": "y",
    "CONFIG_BPF_EVENTS": "y",
    "CONFIG_DEBUG_INFO_BTF": "y",
    "CONFIG_NET": "y",
    "CONFIG_XDP_SOCKETS": "y",
    "CONFIG_64BIT": "y",
    "CONFIG_X86_64": "y",
    "CONFIG_HZ": "250",
    "CONFIG_NR_CPUS": "64",
}
KERNEL_VERSION = (6, 18, 0)


def kernel_version_code(version: tuple[int, int, int]) -> int:
    major, minor, patch = version
    return (major << 16) + (minor << 8) + min(patch, 255)


def parse_kconfig(text: str) -> dict[str, str]:
    """``CONFIG_X=y`` lines (comments and blank lines ignored)."""
    out: dict[str, str] = {}
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        if not sep or not name.startswith("CONFIG_"):
            raise BpfError(errno.EINVAL, f"kconfig line {n}: expected CONFIG_NAME=value")
        out[name.strip()] = value.strip()
    return out


def _fail(ext: Extern, why: str, err: int = errno.EINVAL) -> BpfError:
    return BpfError(err, f"extern (kcfg) '{ext.name}': {why}")


def _put_num(ext: Extern, data: bytearray, value: int) -> None:
    if ext.kcfg_type == "char_arr":
        raise _fail(ext, f"value {value} implies integer type")
    bits = ext.size * 8
    if ext.signed:
        ok = -(1 << (bits - 1)) <= value < (1 << (bits - 1))
    else:
        ok = 0 <= value < (1 << bits)
    if not ok:
        raise _fail(ext, f"value {value} doesn't fit in {ext.size} bytes", errno.ERANGE)
    data[ext.data_off : ext.data_off + ext.size] = (value & ((1 << bits) - 1)).to_bytes(
        ext.size, "little")


def _put(ext: Extern, data: bytearray, raw: str) -> None:
    kind = ext.kcfg_type
    if raw in ("y", "n", "m"):
        if kind == "bool":
            if raw == "m":
                raise _fail(ext, "value 'm' implies tristate or char type")
            data[ext.data_off] = 1 if raw == "y" else 0
        elif kind == "tristate":
            _put_num(ext, data, {"y": 1, "n": 0, "m": 2}[raw])
        elif kind == "char":
            data[ext.data_off] = ord(raw)
        else:
            raise _fail(ext, f"value '{raw}' implies bool, tristate, or char type")
        return
    if raw.startswith('"'):
        if kind != "char_arr":
            raise _fail(ext, f"value '{raw}' implies char array type")
        if len(raw) < 2 or not raw.endswith('"'):
            raise _fail(ext, f"invalid string config '{raw}'")
        body = raw[1:-1].encode()[: ext.size - 1]
        data[ext.data_off : ext.data_off + ext.size] = body.ljust(ext.size, b"\0")
        return
    try:
        value = int(raw, 0)
    except ValueError:
        raise _fail(ext, f"invalid value '{raw}'") from None
    _put_num(ext, data, value)


def fill_kconfig(externs: list[Extern], size: int, config: Mapping[str, str] | None = None,
                 version: tuple[int, int, int] = KERNEL_VERSION) -> bytes:  # fmt: skip
    """The ``.kconfig`` map's value for these externs."""
    cfg = dict(DEFAULT_KCONFIG)
    if config:
        cfg.update(config)
    data = bytearray(size)
    for ext in externs:
        if ext.kind != ExternKind.KCONFIG:
            continue
        name = ext.name
        if name.startswith("CONFIG_"):
            if name in cfg:
                _put(ext, data, cfg[name])
            elif not ext.weak:
                raise BpfError(errno.ESRCH, f"extern '{name}' (strong): not resolved")
        elif name == "LINUX_KERNEL_VERSION":
            _put_num(ext, data, kernel_version_code(version))
        elif name in ("LINUX_HAS_BPF_COOKIE", "LINUX_HAS_SYSCALL_WRAPPER"):
            _put_num(ext, data, 1)
        elif not name.startswith("LINUX_") or not ext.weak:
            raise _fail(ext, "unrecognized virtual extern")
    return bytes(data)


def check_ksyms(externs: list[Extern], has_func: Callable[[str], bool] | None = None) -> None:
    """A strong ``__ksym`` must resolve: pybpf's kernel has kernel functions (kfuncs,
    ``has_func`` says which) but no kernel variables."""
    for ext in externs:
        if ext.kind == ExternKind.KSYM and ext.is_func and has_func is not None and has_func(ext.name):
            continue
        if ext.kind == ExternKind.KSYM and not ext.weak:
            what = "func ksym" if ext.is_func else "ksym"
            raise BpfError(errno.ESRCH, f"extern ({what}) '{ext.name}': not found in pybpf's "
                           "kernel (it has no kernel symbols)")  # fmt: skip
