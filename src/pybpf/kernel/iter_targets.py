"""The iterator targets pybpf's kernel registers, as the verifier needs to know them.

An ``iter/<target>`` program attaches to the kernel function ``bpf_iter_<target>``; its
context is that function's argument list, one u64 slot each.  The target says what each
slot holds: the ``meta`` and object pointers are trusted BTF pointers, and some targets
override a slot's type (``ctx_arg_info``), such as the key and value of a map element,
which are buffers whose size is only known when the iterator is attached to a map, or
an object that is NULL on the final call (``PTR_TO_BTF_ID_OR_NULL``, trusted for maps,
tasks, and TCP and UDP sockets, as the kernel registers them; a Unix socket is not).
Scalar slots (a socket's ``uid``, a UDP socket's hash ``bucket``) read as integers.

A target may have its own helper look-up (``get_func_proto``): the ``tcp`` and ``unix``
targets add ``bpf_setsockopt``/``bpf_getsockopt`` (listed in :mod:`.func_proto`).

The running side of the targets (walking maps, the ``seq_file`` output) lives in
:mod:`pybpf.iter`; this module only describes the contexts.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass

from .ctx_access import BtfArg, BtfArgKind, BtfFuncSig
from .progtypes import AttachType
from .regtypes import RegType, TypeFlag

ITER_FUNC_PREFIX = "bpf_iter_"

_BUF = int(RegType.PTR_TO_BUF)
_MAYBE_NULL = int(TypeFlag.PTR_MAYBE_NULL)
_RDONLY = int(TypeFlag.MEM_RDONLY)
_TRUSTED = int(TypeFlag.PTR_TRUSTED)

KEY_BUF_TYPE = _BUF | _MAYBE_NULL | _RDONLY
"""A map element's key: read-only, NULL on the final call."""
VALUE_BUF_TYPE = _BUF | _MAYBE_NULL
"""A map element's value: writable, NULL on the final call."""


@dataclass(frozen=True)
class IterTarget:
    """One registered target: its name, its context struct and the argument list of
    ``bpf_iter_<name>`` with the slot types the target overrides."""

    name: str
    ctx_struct: str
    args: tuple[BtfArg, ...]
    arg_names: tuple[str, ...]
    needs_map: bool = False
    """Creating a link needs a map (``iter_info.map.map_fd``)."""
    resched: bool = False
    """The walk may reschedule between objects (``BPF_ITER_RESCHED``): only such a
    target runs sleepable (``iter.s/``) programs."""

    @property
    def func_name(self) -> str:
        return ITER_FUNC_PREFIX + self.name

    def signature(self) -> BtfFuncSig:
        return BtfFuncSig(self.func_name, self.args)

    def slot(self, arg_name: str) -> int:
        """The ctx offset of an argument."""
        return 8 * self.arg_names.index(arg_name)


_META = BtfArg(BtfArgKind.STRUCT_PTR, "bpf_iter_meta")
_BTF_ID = int(RegType.PTR_TO_BTF_ID)
_OBJ_OR_NULL = _BTF_ID | _MAYBE_NULL
"""An object slot (``PTR_TO_BTF_ID_OR_NULL``): NULL on the final call."""


def _obj(struct: str, reg_type: int = _OBJ_OR_NULL) -> BtfArg:
    return BtfArg(BtfArgKind.STRUCT_PTR, struct, reg_type=reg_type)


def _scalar(c_type: str) -> BtfArg:
    return BtfArg(BtfArgKind.SCALAR, type_name=c_type)


_UID = _scalar("uid_t")


TARGETS: dict[str, IterTarget] = {
    t.name: t
    for t in (
        IterTarget("bpf_map", "bpf_iter__bpf_map",
                   (_META, _obj("bpf_map", _OBJ_OR_NULL | _TRUSTED)), ("meta", "map")),
        IterTarget(
            "bpf_map_elem", "bpf_iter__bpf_map_elem",
            (_META, BtfArg(BtfArgKind.STRUCT_PTR, "bpf_map"),
             BtfArg(BtfArgKind.VOID_PTR, reg_type=KEY_BUF_TYPE),
             BtfArg(BtfArgKind.VOID_PTR, reg_type=VALUE_BUF_TYPE)),
            ("meta", "map", "key", "value"),
            needs_map=True,
        ),
        IterTarget("bpf_prog", "bpf_iter__bpf_prog", (_META, _obj("bpf_prog")), ("meta", "prog")),
        IterTarget("bpf_link", "bpf_iter__bpf_link", (_META, _obj("bpf_link")), ("meta", "link")),
        IterTarget("task", "bpf_iter__task", (_META, _obj("task_struct", _OBJ_OR_NULL | _TRUSTED)),
                   ("meta", "task"), resched=True),
        IterTarget(
            "sockmap", "bpf_iter__sockmap",
            (_META, BtfArg(BtfArgKind.STRUCT_PTR, "bpf_map"),
             BtfArg(BtfArgKind.VOID_PTR, reg_type=KEY_BUF_TYPE), _obj("sock")),
            ("meta", "map", "key", "sk"),
            needs_map=True,
        ),
        IterTarget("tcp", "bpf_iter__tcp",
                   (_META, _obj("sock_common", _OBJ_OR_NULL | _TRUSTED), _UID),
                   ("meta", "sk_common", "uid")),
        IterTarget("udp", "bpf_iter__udp",
                   (_META, _obj("udp_sock", _OBJ_OR_NULL | _TRUSTED), _UID, _scalar("int")),
                   ("meta", "udp_sk", "uid", "bucket")),
        IterTarget("unix", "bpf_iter__unix", (_META, _obj("unix_sock"), _UID),
                   ("meta", "unix_sk", "uid")),
    )
}  # fmt: skip
"""The targets pybpf's kernel runs, by name (the part after ``iter/``)."""


def iter_target(name: str) -> IterTarget | None:
    """The target ``name`` (``bpf_map_elem``) or its function (``bpf_iter_bpf_map_elem``)."""
    return TARGETS.get(name) or TARGETS.get(name.removeprefix(ITER_FUNC_PREFIX))


def iter_func_decls() -> str:
    """C prototypes of every target's ``bpf_iter_<target>`` (for the kernel BTF)."""
    lines = []
    for t in TARGETS.values():
        params = []
        for arg, pname in zip(t.args, t.arg_names, strict=True):
            if arg.kind == BtfArgKind.STRUCT_PTR:
                params.append(f"struct {arg.struct} *{pname}")
            elif arg.kind == BtfArgKind.SCALAR:
                params.append(f"{arg.type_name} {pname}")
            else:
                params.append(f"void *{pname}")
        lines.append(f"int {t.func_name}({', '.join(params)});")
    return "\n".join(lines) + "\n"


def attach_btf_name(attach_type: int | None, target: str) -> str:
    """The kernel function a program's ``attach_btf_id`` names: ``bpf_iter_<target>``
    for an iterator, the target itself otherwise (as libbpf resolves it)."""
    if not target:
        return ""
    return ITER_FUNC_PREFIX + target if attach_type == AttachType.TRACE_ITER else target


def missing_target_message(attach_type: int | None, target: str) -> str | None:
    """Why an iterator program cannot load: it names no target the kernel has, so
    libbpf finds no BTF id for ``bpf_iter_<target>`` (and fails with ESRCH)."""
    if attach_type != AttachType.TRACE_ITER or iter_target(target) is not None:
        return None
    return f"failed to find kernel BTF type ID of '{ITER_FUNC_PREFIX}{target}': -{errno.ESRCH}"
