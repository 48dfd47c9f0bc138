"""Small programs run by ``BPF_PROG_TEST_RUN`` on the kernel and on pybpf: the skb test
runs of cgroup_skb and lwt_*, the socket, checksum, head-room, string and fib helpers,
and the program types without a test run.

    python tests/vm/testrun_cases.py --record   # the running kernel's answers, to the data file

Each case is (program type, assembly, packet, optional ``__sk_buff``); the outcome
compared is the errno, retval, output packet and, when a context was passed, the
context that comes back.
"""

from __future__ import annotations

import argparse
import json
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent.parent / "data" / "testrun" / "helpers_kernel.json"

IPV4 = bytes(12) + b"\x08\x00" + bytes([0x45]) + bytes(49)
IPV6 = bytes(12) + b"\x86\xdd" + bytes([0x60]) + bytes(49)
ZERO64 = bytes(64)
CTX = bytes(192)
EINVAL_M, ENOTSUPP_M = -22, -524


@dataclass(frozen=True)
class Case:
    name: str
    prog_type: str
    asm: str
    data: bytes = ZERO64
    ctx: bytes | None = None


def _stack_bytes(blob: bytes, at: int = 64) -> str:
    """Store ``blob`` at r10-``at`` (zero-padded to 8-byte words)."""
    blob = blob + bytes(-len(blob) % 8)
    out = []
    for i in range(0, len(blob), 8):
        word = struct.unpack_from("<Q", blob, i)[0]
        out.append(f"r1 = {word} ll\n*(u64 *)(r10 - {at - i}) = r1")
    return "\n".join(out)


def _csum_diff(name: str, words: list[int], fsize: int, tsize: int, seed: int) -> Case:
    blob = b"".join(struct.pack("<I", w) for w in words).ljust(32, b"\0")  # from, then to
    src = "r1 = r10\nr1 += -32" if fsize else "r1 = 0"
    dst = "r3 = r10\nr3 += -16" if tsize else "r3 = 0"
    asm = (f"{_stack_bytes(blob, 32)}\n{src}\nr2 = {fsize}\n{dst}\nr4 = {tsize}\n"
           f"r5 = {seed} ll\ncall 28\nexit")  # fmt: skip
    return Case(name, "sched_cls", asm)


def _strto(name: str, text: bytes, flags: int, helper: int, want_value: bool) -> Case:
    size = len(text)
    tail = "r0 = *(u64 *)(r10 - 8)\n" if want_value else ""
    asm = (f"r1 = 0\n*(u64 *)(r10 - 8) = r1\n{_stack_bytes(text, 72) if text else ''}\n"
           f"r1 = r10\nr1 += -72\nr2 = {max(size, 1)}\nr3 = {flags}\nr4 = r10\nr4 += -8\n"
           f"call {helper}\n{tail}exit")  # fmt: skip
    return Case(name, "socket_filter", asm)


def _lookup(name: str, helper: int, size: int, netns: int, flags: int) -> Case:
    asm = (f"{_stack_bytes(bytes(40), 40)}\nr2 = r10\nr2 += -40\nr3 = {size}\n"
           f"r4 = {netns} ll\nr5 = {flags}\ncall {helper}\n"
           "if r0 == 0 goto +4\nr1 = r0\ncall 86\nr0 = 1\nexit\nr0 = 0\nexit")  # fmt: skip
    return Case(name, "sched_cls", asm)


_SK = "r1 = *(u64 *)(r1 + 168)\nif r1 == 0 goto +{skip}\n"

CASES: list[Case] = []
for t in ("lwt_in", "lwt_out", "lwt_xmit"):
    CASES += [
        Case(f"{t}_len_ipv4", t, "r0 = *(u32 *)(r1 + 0)\nexit", IPV4),
        Case(f"{t}_pkt_bytes_ipv6", t,
             "r2 = *(u32 *)(r1 + 76)\nr3 = *(u32 *)(r1 + 80)\nr0 = r3\nr0 -= r2\nexit", IPV6),
        Case(f"{t}_protocol", t, "r0 = *(u32 *)(r1 + 16)\nexit", ZERO64),
        Case(f"{t}_first_byte", t, "r2 = *(u32 *)(r1 + 76)\nr3 = *(u32 *)(r1 + 80)\n"
             "r0 = 7\nr4 = r2\nr4 += 1\nif r4 > r3 goto +1\nr0 = *(u8 *)(r2 + 0)\nexit", IPV4),
        Case(f"{t}_mark_ctx", t, "r2 = 42\n*(u32 *)(r1 + 8) = r2\nr0 = 1\nexit", IPV4, CTX),
        Case(f"{t}_14_bytes", t, "r0 = *(u32 *)(r1 + 0)\nexit", bytes(14)),
        Case(f"{t}_13_bytes", t, "r0 = 1\nexit", bytes(13)),
    ]  # fmt: skip
CASES += [
    Case("cgroup_skb_len_is_50", "cgroup_skb",
         "r2 = *(u32 *)(r1 + 0)\nr0 = 0\nif r2 != 50 goto +1\nr0 = 1\nexit", IPV4),
    Case("cgroup_skb_pkt_bytes_50", "cgroup_skb", "r2 = *(u32 *)(r1 + 76)\n"
         "r3 = *(u32 *)(r1 + 80)\nr0 = 0\nr2 += 50\nif r2 != r3 goto +1\nr0 = 1\nexit", IPV4),
    Case("cgroup_skb_mark_ctx", "cgroup_skb", "r2 = 7\n*(u32 *)(r1 + 8) = r2\nr0 = 1\nexit",
         IPV6, CTX),
    Case("cgroup_skb_short", "cgroup_skb", "r0 = 1\nexit", bytes(10)),
    Case("lwt_xmit_change_head_twice", "lwt_xmit", "r6 = r1\nr2 = 34\nr3 = 0\ncall 43\n"
         "r7 = r0\nr1 = r6\nr2 = 42\nr3 = 0\ncall 43\nr0 |= r7\nexit", IPV4),
    Case("lwt_xmit_change_head_data", "lwt_xmit", "r6 = r1\nr2 = 8\nr3 = 0\ncall 43\n"
         "r0 = *(u32 *)(r6 + 0)\nexit", IPV4),
    Case("lwt_xmit_change_head_flags", "lwt_xmit", "r2 = 8\nr3 = 1\ncall 43\nexit", IPV4),
    Case("lwt_xmit_change_head_too_long", "lwt_xmit", "r2 = 20000\nr3 = 0\ncall 43\nexit", IPV4),
    Case("sched_cls_change_head_keeps_l2", "sched_cls", "r2 = 16\nr3 = 0\ncall 43\nexit", IPV4),
    Case("csum_update_without_complete", "sched_cls", "r2 = 5\ncall 40\nexit"),
    _csum_diff("csum_diff_from", [0x12345678, 0xFFFFFFFF, 0xDEADBEEF, 0], 4, 0, 0),
    _csum_diff("csum_diff_to", [0, 0, 0, 0, 0x12345678, 0xABCDEF01], 0, 8, 0xFFFFFFFF),
    _csum_diff("csum_diff_both", [0x12345678, 0x80000001, 0, 0, 0xDEADBEEF, 0xFFFF], 8, 8, 0x1234),
    _csum_diff("csum_diff_odd_sizes", [0x11111111, 0x22222222, 0, 0, 0x33333333, 0x44444444],
               3, 5, 7),
    _csum_diff("csum_diff_seed_only", [0, 0, 0, 0], 0, 0, 0xFFFFFFFFFF),
    _csum_diff("csum_diff_zero_from", [0, 0, 0, 0], 4, 0, 0),
    _lookup("sk_lookup_tcp_v4", 84, 12, -1, 0),
    _lookup("sk_lookup_tcp_v6", 84, 36, -1, 0),
    _lookup("sk_lookup_udp_v4", 85, 12, -1, 0),
    _lookup("skc_lookup_tcp_v4", 99, 12, -1, 0),
    _lookup("sk_lookup_tcp_bad_size", 84, 13, -1, 0),
    _lookup("sk_lookup_tcp_netns_id", 84, 12, 0, 0),
    _lookup("sk_lookup_tcp_flags", 84, 12, -1, 1),
    Case("dummy_sk_fullsock", "sched_cls",
         _SK.format(skip=4) + "call 95\nif r0 == 0 goto +2\nr0 = 1\nexit\nr0 = 2\nexit"),
    Case("dummy_sk_tcp_sock", "sched_cls",
         _SK.format(skip=4) + "call 96\nif r0 == 0 goto +2\nr0 = 1\nexit\nr0 = 2\nexit"),
    Case("dummy_sk_listener", "sched_cls",
         _SK.format(skip=4) + "call 98\nif r0 == 0 goto +2\nr0 = 1\nexit\nr0 = 2\nexit"),
    Case("dummy_sk_family_ipv4", "sched_cls",
         _SK.format(skip=2) + "r0 = *(u32 *)(r1 + 4)\nexit\nr0 = 99\nexit", IPV4),
    _strto("strtoul_decimal", b"  123xyz", 0, 106, True),
    _strto("strtoul_decimal_consumed", b"  123xyz", 0, 106, False),
    _strto("strtoul_hex_prefix", b"0x1fG", 0, 106, True),
    _strto("strtoul_octal", b"0777", 0, 106, True),
    _strto("strtoul_base16_prefix", b"0XfF", 16, 106, True),
    _strto("strtoul_negative", b"-5", 0, 106, False),
    _strto("strtoul_no_digits", b"xyz", 10, 106, False),
    _strto("strtoul_only_space", b"   ", 10, 106, False),
    _strto("strtoul_bad_base", b"12", 3, 106, False),
    _strto("strtoul_bad_flags", b"12", 0x20, 106, False),
    _strto("strtoul_overflow", b"18446744073709551616", 10, 106, False),
    _strto("strtoul_u64_max", b"18446744073709551615", 10, 106, True),
    _strto("strtoul_nul_stops", b"42\x0099", 10, 106, False),
    _strto("strtol_negative", b"\t-42", 0, 105, True),
    _strto("strtol_too_big", b"9223372036854775808", 10, 105, False),
    _strto("strtol_min", b"-9223372036854775808", 10, 105, False),
    _strto("strtoul_long_digits", b"0" * 70 + b"1", 10, 106, False),
    Case("fib_lookup_short_params", "xdp", f"{_stack_bytes(bytes(64))}\nr2 = r10\nr2 += -64\n"
         "r3 = 8\nr4 = 0\ncall 69\nexit"),
    Case("fib_lookup_bad_flags", "xdp", f"{_stack_bytes(bytes(64))}\nr2 = r10\nr2 += -64\n"
         "r3 = 64\nr4 = 64\ncall 69\nexit"),
    Case("fib_lookup_bad_family", "xdp", f"{_stack_bytes(bytes([7]) + bytes(63))}\n"
         "r2 = r10\nr2 += -64\nr3 = 64\nr4 = 0\ncall 69\nexit"),
    Case("kprobe_has_no_test_run", "kprobe", "r0 = 0\nexit"),
    Case("sk_msg_has_no_test_run", "sk_msg", "r0 = 1\nexit"),
    Case("lwt_seg6local_has_no_test_run", "lwt_seg6local", "r0 = 0\nexit"),
]  # fmt: skip

ATTACH = {"sk_msg": 7}  # BPF_SK_MSG_VERDICT


def _outcome(err: int, retval: int, data: bytes, ctx: bytes | None) -> dict[str, Any]:
    if err:
        return {"errno": err}
    out: dict[str, Any] = {"errno": 0, "retval": retval & 0xFFFFFFFF, "data": data.hex()}
    if ctx is not None:
        out["ctx"] = ctx.hex()
    return out


def on_pybpf(case: Case) -> dict[str, Any]:
    from pybpf.errors import BpfError
    from pybpf.isa import assemble
    from pybpf.kernel.progtypes import AttachType, prog_type_from_name
    from pybpf.program import ProgramRejected, load_program

    at = ATTACH.get(case.prog_type)
    try:
        prog = load_program(assemble(case.asm), prog_type_from_name(case.prog_type),
                            expected_attach_type=AttachType(at) if at else None)  # fmt: skip
    except ProgramRejected as exc:
        return {"rejected": exc.result.message}
    try:
        r = prog.run(case.data, ctx=case.ctx)
    except BpfError as exc:
        return _outcome(exc.errno, 0, b"", None)
    return _outcome(0, r.retval, r.data, r.ctx if case.ctx is not None else None)


def on_kernel(case: Case) -> dict[str, Any]:
    from pybpf.isa import assemble
    from pybpf.kernel.progtypes import prog_type_from_name
    from pybpf.oracle.progs import prog_load, prog_test_run

    lr = prog_load(prog_type_from_name(case.prog_type), assemble(case.asm),
                   expected_attach_type=ATTACH.get(case.prog_type, 0), log_level=1)  # fmt: skip
    if lr.fd is None:
        return {"rejected": lr.log.strip().splitlines()[-2] if lr.log.strip() else str(lr.errno)}
    try:
        size = None if case.ctx is None else len(case.ctx)
        r = prog_test_run(lr.fd, case.data, ctx_in=case.ctx, ctx_size_out=size)
        return _outcome(r.errno, r.retval, r.data_out, r.ctx_out if case.ctx is not None else None)
    finally:
        os.close(lr.fd)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--record", action="store_true", help=f"write {DATA}")
    args = ap.parse_args()
    answers = {c.name: on_kernel(c) for c in CASES}
    diffs = 0
    for c in CASES:
        mine = on_pybpf(c)
        if mine != answers[c.name]:
            diffs += 1
            print(f"{c.name}: kernel {answers[c.name]} pybpf {mine}")
    print(f"{len(CASES) - diffs} of {len(CASES)} agree")
    if args.record:
        DATA.parent.mkdir(parents=True, exist_ok=True)
        body = {"recorded_with": {"kernel": os.uname().release,
                                  "command": "python tests/vm/testrun_cases.py --record"},
                "cases": answers}  # fmt: skip
        DATA.write_text(json.dumps(body, indent=1, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
