"""Struct_ops links are kernel links: the ``bpf_link`` iterator shows them (type
STRUCT_OPS, the attach type given at creation, no program) from creation until they are
closed; a detached link is still listed, as the kernel keeps it until its last reference
goes."""

from __future__ import annotations

from pybpf.kernel.state import Kernel
from pybpf.kernel.vmlinux import offsetof
from pybpf.struct_ops.link import BPF_LINK_TYPE_STRUCT_OPS, StructOpsLink

from ..iter.test_targets import _iter_prog, _printf
from .test_links import _ready_map

BPF_LINK_TYPE_ITER = 4
BPF_TRACE_ITER = 28
BPF_STRUCT_OPS = 44


def _lister(kernel: Kernel) -> object:
    """An iterator link whose program prints each link's id, type, attach type and
    whether it holds a program."""
    from pybpf.iter import create_iter_link

    lid, ltype, latt, lprog = (
        offsetof("bpf_link", f) for f in ("id", "type", "attach_type", "prog")
    )
    loads = (f"r4 = *(u32 *)(r2 + {lid})\n*(u64 *)(r10 - 64) = r4\n"
             f"r4 = *(u32 *)(r2 + {ltype})\n*(u64 *)(r10 - 56) = r4\n"
             f"r4 = *(u32 *)(r2 + {latt})\n*(u64 *)(r10 - 48) = r4\n"
             f"r4 = *(u64 *)(r2 + {lprog})\nif r4 == 0 goto +1\nr4 = 1\n*(u64 *)(r10 - 40) = r4\n")  # fmt: skip
    prog = _iter_prog(kernel, "bpf_link", _printf("%u %u %u %u\n", loads, 4))
    return create_iter_link(prog)


def _lines(it: object) -> list[str]:
    return it.read_all().decode().splitlines()  # type: ignore[attr-defined,no-any-return]


def test_bpf_link_iterator_lists_struct_ops_links() -> None:
    k = Kernel(num_cpus=1, seed=0)
    a, b = _ready_map(k, b"cc_a", 2), _ready_map(k, b"cc_b", 3)
    it = _lister(k)
    own = f"{it.id} {BPF_LINK_TYPE_ITER} {BPF_TRACE_ITER} 1"  # type: ignore[attr-defined]
    assert _lines(it) == [own, "done"]

    la = StructOpsLink(a)  # type: ignore[arg-type]
    lb = StructOpsLink(b, attach_type=0)  # type: ignore[arg-type]
    assert la.link_type == BPF_LINK_TYPE_STRUCT_OPS and la.id != lb.id
    want = sorted([(it.id, own), (la.id, f"{la.id} 9 {BPF_STRUCT_OPS} 0"),  # type: ignore[attr-defined]
                   (lb.id, f"{lb.id} 9 0 0")])  # fmt: skip
    assert _lines(it) == [line for _, line in want] + ["done"]

    la.detach()  # detached, still a link
    assert _lines(it) == [line for _, line in want] + ["done"]
    la.close()
    assert _lines(it) == [line for i, line in want if i != la.id] + ["done"]
    lb.close()
    lb.close()  # closing twice changes nothing
    assert _lines(it) == [own, "done"]


def test_loader_links_register_and_unregister() -> None:
    """A ``.struct_ops.link`` object attached by the loader is listed; unregistering it
    (libbpf's link destroy: detach, then close) drops it."""
    from pathlib import Path

    from pybpf.iter import kernel_links
    from pybpf.struct_ops.loader import open_struct_ops

    k = Kernel(num_cpus=1, seed=0)
    obj = Path(__file__).parents[2] / "examples" / "struct_ops" / "cubic.bpf.o"
    _, ops = open_struct_ops(str(obj), kernel=k, verify=False)
    link = ops[0].link
    assert link is not None and kernel_links(k) == {link.id: link}
    it = _lister(k)
    assert f"{link.id} 9 {BPF_STRUCT_OPS} 0" in _lines(it)
    ops[0].unregister()
    assert link.map is None and set(kernel_links(k)) == {it.id}  # type: ignore[attr-defined]
