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
