"""The struct_ops verifier rules that do not need a program: member prototypes and the
tcp_sock fields a congestion control may write."""

from __future__ import annotations

from pybpf.kernel.ctx_access import BtfArgKind
from pybpf.kernel.vmlinux import offsetof
from pybpf.verifier.struct_ops_ctx import member_func_sig, returns_void, tcp_ca_write_check


def test_member_prototypes() -> None:
    sig = member_func_sig("tcp_congestion_ops", "pkts_acked")
    assert [a.kind for a in sig.args] == [BtfArgKind.STRUCT_PTR, BtfArgKind.STRUCT_PTR]
    assert sig.args[1].struct == "ack_sample"
    assert returns_void("tcp_congestion_ops", "cong_avoid")
    assert not returns_void("tcp_congestion_ops", "ssthresh")


def test_tcp_writes() -> None:
    cwnd = offsetof("tcp_sock", "snd_cwnd")
    assert tcp_ca_write_check("tcp_sock", cwnd, 4) is None
    assert "beyond the member" in (tcp_ca_write_check("tcp_sock", cwnd, 8) or "")
    assert tcp_ca_write_check("tcp_sock", offsetof("tcp_sock", "srtt_us"), 4) is not None
    priv = offsetof("tcp_sock", "inet_conn.icsk_ca_priv")
    assert tcp_ca_write_check("tcp_sock", priv + 96, 8) is None
    assert tcp_ca_write_check("sock", 0, 4) == "only read is supported"


def _load(asm: str, member: str = "cong_avoid") -> object:
    from pybpf.isa import assemble
    from pybpf.kernel.state import Kernel
    from pybpf.struct_ops import load_struct_ops_program

    return load_struct_ops_program(assemble(asm), "tcp_congestion_ops", member, kernel=Kernel(seed=0))


def test_verifier_struct_ops_context() -> None:
    import pytest

    from pybpf.program import ProgramRejected

    cwnd = offsetof("tcp_sock", "snd_cwnd")
    srtt = offsetof("tcp_sock", "srtt_us")
    # the sock argument is a tcp_sock; snd_cwnd may be written, a void member needs no r0
    p = _load(f"r1 = *(u64 *)(r1 + 0)\nr2 = *(u32 *)(r1 + {srtt})\n*(u32 *)(r1 + {cwnd}) = r2\nexit")
    assert p.verified is not None and p.verified.accepted  # type: ignore[attr-defined]
    with pytest.raises(ProgramRejected) as e:
        _load(f"r1 = *(u64 *)(r1 + 0)\nr2 = 1\n*(u32 *)(r1 + {srtt}) = r2\nexit")
    assert e.value.message == f"no write support to tcp_sock at off {srtt}"
    with pytest.raises(ProgramRejected) as e:
        _load("r2 = *(u64 *)(r1 + 24)\nexit")  # cong_avoid has three arguments
    assert "invalid bpf_context access" in e.value.message
    with pytest.raises(ProgramRejected):  # ssthresh returns u32: r0 must be set
        _load("exit", "ssthresh")


def test_tcp_kfunc_call_verifies_and_runs() -> None:

    from pybpf.isa import Insn, assemble
    from pybpf.kernel.state import Kernel
    from pybpf.kernel.vmlinux import kfunc
    from pybpf.struct_ops import load_struct_ops_program
    from pybpf.struct_ops.call import OpsCaller
    from pybpf.struct_ops.tcp.sock import TcpSock

    desc = kfunc("tcp_reno_ssthresh")
    assert desc is not None
    insns = [*assemble("r1 = *(u64 *)(r1 + 0)")[:1], Insn(0x85, 0, 2, 0, desc.func_id), *assemble("exit")]
    k = Kernel(seed=0)
    p = load_struct_ops_program(insns, "tcp_congestion_ops", "ssthresh", kernel=k)
    assert p.verified is not None and p.verified.accepted
    tp = TcpSock()
    tp.set("snd_cwnd", 40)
    assert OpsCaller({"ssthresh": p}, k)("ssthresh", tp.address) == 20
