"""Verdicts and processed-instruction counts of struct_ops programs: pybpf's verifier
(member context from pybpf's kernel BTF) and the running kernel's (the same object
relocated against the host's BTF, attached to the same member there)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from pybpf.elf.struct_ops import collect_struct_ops, resolve_kfunc_calls


def pybpf_verdicts(path: Path) -> dict[str, Any]:
    from pybpf.kernel.state import Kernel
    from pybpf.struct_ops.loader import open_struct_ops

    out: dict[str, Any] = {}
    _, ops = open_struct_ops(str(path), kernel=Kernel(seed=0), verify=True, register=False)
    for lo in ops:
        for member, prog in lo.programs.items():
            assert prog.verified is not None
            out[f"{lo.var.name}.{member}"] = [0, prog.verified.insns_processed]
    return out


def kernel_verdicts(path: Path) -> dict[str, Any]:
    import pybpf
    from pybpf.btf import Func, Struct, load_vmlinux
    from pybpf.elf.link import POISON_CALL_KFUNC_BASE
    from pybpf.oracle import close, prog_load

    vm = load_vmlinux()
    obj = pybpf.open(str(path), btf=vm)  # CO-RE against the host's BTF
    out: dict[str, Any] = {}
    for var in collect_struct_ops(path.read_bytes(), obj.spec.btf, str(path)):
        tid = vm.find_by_name_kind(var.type_name, Struct.kind)
        t = vm[tid] if tid is not None else None
        assert isinstance(t, Struct)
        index = {m.name: i for i, m in enumerate(t.members)}
        for member, pname in var.programs.items():
            insns = list(obj.programs[pname].link().insns)
            insns = resolve_kfunc_calls(insns, obj.spec.externs)
            for i, x in enumerate(insns):  # bind kfunc calls to the host's ids, by name
                if x.code == 0x85 and x.src == 0 and x.imm >= POISON_CALL_KFUNC_BASE:
                    ext = obj.spec.externs[x.imm - POISON_CALL_KFUNC_BASE]
                    insns[i] = dataclasses.replace(x, src=2, imm=vm.find_by_name_kind(ext.name, Func.kind) or 0)
                elif x.code == 0x85 and x.src == 2:
                    from pybpf.kernel.vmlinux import kfunc_by_id

                    name = kfunc_by_id()[x.imm].name
                    insns[i] = dataclasses.replace(x, imm=vm.find_by_name_kind(name, Func.kind) or 0)
            r = prog_load(27, insns, expected_attach_type=index[member], attach_btf_id=tid, log_level=1,
                          log_size=1 << 24)  # fmt: skip
            if r.fd is not None:
                close(r.fd)
            out[f"{var.name}.{member}"] = [r.errno, r.verified_insns]
    return out
