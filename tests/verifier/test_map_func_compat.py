"""Which helpers a map may be passed to: pybpf's verifier against the kernel's.

Socket maps take the generic update/delete helpers only from program types that never
hold a locked socket (sock_ops may delete but must add through ``bpf_sock_map_update``),
plus their dedicated redirect/update helpers; local-storage maps take only their own
get/delete helpers; ``bpf_tail_call`` invalidates packet pointers like the helpers that
move the packet. Each case is compared on verdict, errno and the last log line.
Recorded answers: tests/data/verifier/map_func_compat_kernel.json (regenerate with
``python -m tests.verifier.test_map_func_compat`` where bpf() works).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pybpf.btf import Btf, Int, encode
from pybpf.isa.asm_c import assemble_c
from pybpf.kernel.progtypes import ProgType, prog_type_from_name
from pybpf.maps.types import MapType
from pybpf.verifier import Options, verify

DATA = Path(__file__).resolve().parents[1] / "data" / "verifier" / "map_func_compat_kernel.json"


@dataclass(frozen=True)
class MapDef:
    """A map as both sides create it; ``btf`` maps get a u32 key and a u64 value type."""

    type: MapType
    key_size: int = 4
    value_size: int = 4
    max_entries: int = 4
    flags: int = 0
    btf: bool = False


# The program text names maps by position: map[idx:0] is SOCKMAP, ...
MAPS: tuple[MapDef, ...] = (
    MapDef(MapType.SOCKMAP),
    MapDef(MapType.SOCKHASH),
    MapDef(MapType.SK_STORAGE, value_size=8, max_entries=0, flags=1, btf=True),  # BPF_F_NO_PREALLOC
    MapDef(MapType.ARRAY, value_size=8),
    MapDef(MapType.PROG_ARRAY),
    MapDef(MapType.REUSEPORT_SOCKARRAY, value_size=8),
)
SOCKMAP, SOCKHASH, SK_STORAGE, ARRAY, PROG_ARRAY, REUSEPORT = range(len(MAPS))


@dataclass(frozen=True)
class Case:
    name: str
    prog_type: str
    text: str
    # 6.12 turns an invalidated packet pointer into a scalar; newer kernels keep it a
    # packet pointer with no range, so only the verdict and errno are version-stable
    same_message: bool = True


def _key(map_idx: int, call: str, pre: str = "", args: str = "") -> str:
    """``call`` with r1 = the map and r2 = a pointer to a zeroed u32 key on the stack."""
    return (
        f"{pre}*(u32 *)(r10 -4) = 0\nr1 = map[idx:{map_idx}]\nr2 = r10\nr2 += -4\n{args}"
        f"call {call}\nr0 = 0\nexit\n"
    )


# r6 = skb->sk (a socket or NULL) checked for NULL, for the update cases in tc
_TC_SK = "r6 = *(u64 *)(r1 +168)\nif r6 != 0x0 goto pc+2\nr0 = 0\nexit\n"
# r6 = ops->sk checked for NULL, and r7 = the context for bpf_sock_map_update
_OPS_SK = "r7 = r1\nr6 = *(u64 *)(r1 +184)\nif r6 != 0x0 goto pc+2\nr0 = 0\nexit\n"
_UPDATE = "r3 = r6\nr4 = 0\n"


def _dedicated(map_idx: int, call: str) -> str:
    """A ``(ctx, map, key pointer, flags)`` helper: bpf_sock_map_update and its kin."""
    return (
        "r6 = r1\n*(u32 *)(r10 -4) = 0\nr1 = r6\nr2 = map[idx:"
        f"{map_idx}]\nr3 = r10\nr3 += -4\n"
        f"r4 = 0\ncall {call}\nr0 = 0\nexit\n"
    )


def _redirect(map_idx: int, call: str, key: str) -> str:
    """``(ctx, map, key, flags)`` with the key by value (``map``) or by pointer (``hash``)."""
    keyarg = "r3 = 0\n" if key == "value" else "r3 = r10\nr3 += -4\n"
    return f"*(u32 *)(r10 -4) = 0\nr2 = map[idx:{map_idx}]\n{keyarg}r4 = 0\ncall {call}\nexit\n"


# a socket map lookup hands back a referenced socket, released again
_SOCK_LOOKUP = """
*(u32 *)(r10 -4) = 0
r1 = map[idx:0]
r2 = r10
r2 += -4
call bpf_map_lookup_elem
if r0 == 0x0 goto pc+2
r1 = r0
call bpf_sk_release
r0 = 0
exit
"""


def _storage_get(map_idx: int) -> str:
    """bpf_sk_storage_get(map, skb->sk, NULL, 0)."""
    return f"{_TC_SK}r1 = map[idx:{map_idx}]\nr2 = r6\nr3 = 0\nr4 = 0\ncall bpf_sk_storage_get\nr0 = 0\nexit\n"


# Bounds-check one packet byte, call a helper, then read the byte again.
_PKT = """
r6 = r1
r7 = *(u32 *)(r6 +76)
r8 = *(u32 *)(r6 +80)
r0 = r7
r0 += 1
if r0 > r8 goto pc+{skip}
{call}r0 = *(u8 *)(r7 +0)
r0 = 0
exit
"""
_TAIL = "r1 = r6\nr2 = map[idx:4]\nr3 = 0\ncall bpf_tail_call\n"
_CHANGE_TYPE = "r1 = r6\nr2 = 0\ncall bpf_skb_change_type\n"


def _pkt(call: str) -> str:
    return _PKT.format(skip=call.count("\n") + 1, call=call)


CASES: tuple[Case, ...] = (
    # local storage: only its own helpers
    Case("sk_storage_lookup_tc", "sched_cls", _key(SK_STORAGE, "bpf_map_lookup_elem")),
    Case("sk_storage_delete_elem_tc", "sched_cls", _key(SK_STORAGE, "bpf_map_delete_elem")),
    Case("sk_storage_get_tc", "sched_cls", _storage_get(SK_STORAGE)),
    Case("sk_storage_get_on_array_tc", "sched_cls", _storage_get(ARRAY)),
    # generic update/delete on socket maps, by program type
    Case("sockmap_lookup_tc", "sched_cls", _SOCK_LOOKUP),
    Case("sockmap_delete_raw_tp", "raw_tracepoint", _key(SOCKMAP, "bpf_map_delete_elem")),
    Case("sockhash_delete_kprobe", "kprobe", _key(SOCKHASH, "bpf_map_delete_elem")),
    Case("sockmap_delete_tc", "sched_cls", _key(SOCKMAP, "bpf_map_delete_elem")),
    Case("sockmap_delete_xdp", "xdp", _key(SOCKMAP, "bpf_map_delete_elem")),
    Case("sockhash_delete_socket_filter", "socket_filter", _key(SOCKHASH, "bpf_map_delete_elem")),
    Case("sockmap_delete_sock_ops", "sock_ops", _key(SOCKMAP, "bpf_map_delete_elem")),
    Case("sockmap_update_tc", "sched_cls", _key(SOCKMAP, "bpf_map_update_elem", _TC_SK, _UPDATE)),
    Case("sockhash_update_tc", "sched_cls", _key(SOCKHASH, "bpf_map_update_elem", _TC_SK, _UPDATE)),
    Case("sockmap_update_sock_ops", "sock_ops", _key(SOCKMAP, "bpf_map_update_elem", _OPS_SK, _UPDATE)),
    # the dedicated helpers take their own map type only
    Case("sock_map_update_sock_ops", "sock_ops", _dedicated(SOCKMAP, "bpf_sock_map_update")),
    Case("sock_hash_update_sock_ops", "sock_ops", _dedicated(SOCKHASH, "bpf_sock_hash_update")),
    Case("sock_hash_update_on_sockmap", "sock_ops", _dedicated(SOCKMAP, "bpf_sock_hash_update")),
    Case("sock_map_update_on_array", "sock_ops", _dedicated(ARRAY, "bpf_sock_map_update")),
    Case("sk_redirect_map_sk_skb", "sk_skb", _redirect(SOCKMAP, "bpf_sk_redirect_map", "value")),
    Case("sk_redirect_map_on_sockhash", "sk_skb", _redirect(SOCKHASH, "bpf_sk_redirect_map", "value")),
    Case("sk_redirect_hash_sk_skb", "sk_skb", _redirect(SOCKHASH, "bpf_sk_redirect_hash", "pointer")),
    Case("msg_redirect_map_sk_msg", "sk_msg", _redirect(SOCKMAP, "bpf_msg_redirect_map", "value")),
    Case("msg_redirect_hash_sk_msg", "sk_msg", _redirect(SOCKHASH, "bpf_msg_redirect_hash", "pointer")),
    Case("msg_redirect_hash_on_sockmap", "sk_msg", _redirect(SOCKMAP, "bpf_msg_redirect_hash", "pointer")),
    Case("sk_select_reuseport_sockmap", "sk_reuseport", _redirect(SOCKMAP, "bpf_sk_select_reuseport", "pointer")),
    Case("sk_select_reuseport_sockarray", "sk_reuseport",
         _redirect(REUSEPORT, "bpf_sk_select_reuseport", "pointer")),
    Case("sk_select_reuseport_on_array", "sk_reuseport", _redirect(ARRAY, "bpf_sk_select_reuseport", "pointer")),
    Case("reuseport_sockarray_lookup", "sk_reuseport", _key(REUSEPORT, "bpf_map_lookup_elem")),
    # packet pointers after a helper call
    Case("pkt_read_no_call", "sched_cls", _pkt("")),
    Case("pkt_read_after_tail_call", "sched_cls", _pkt(_TAIL), same_message=False),
    Case("pkt_read_after_skb_change_type", "sched_cls", _pkt(_CHANGE_TYPE)),
)  # fmt: skip


def _btf() -> tuple[Btf, int, int]:
    btf = Btf()
    u32 = btf.add(Int(name="unsigned int", size=4, bits=32))
    u64 = btf.add(Int(name="unsigned long long", size=8, bits=64))
    return btf, u32, u64


def _answer(accepted: bool, err: int, message: str) -> dict[str, Any]:
    return {"accepted": accepted, "errno": err, "message": "" if accepted else message}


def pybpf_answer(case: Case) -> dict[str, Any]:
    from pybpf.maps import MapSpec, create_map, describe_map_btf

    maps = []
    for md in MAPS:
        mbtf = describe_map_btf(*_btf()) if md.btf else None
        spec = MapSpec(md.type, md.key_size, md.value_size, md.max_entries, md.flags, "m", btf=mbtf)
        maps.append(create_map(spec))
    r = verify(
        assemble_c(case.text),
        prog_type_from_name(case.prog_type),
        maps=maps,
        options=Options(log_level=1),
    )
    return _answer(r.accepted, r.errno, r.message)


def kernel_answer(case: Case) -> dict[str, Any] | None:
    """The running kernel's answer, or None where bpf() is refused."""
    from pybpf import oracle

    if not oracle.available():
        return None
    fds: list[int] = []
    map_fds: list[int] = []
    try:
        for md in MAPS:
            kw: dict[str, Any] = {}
            if md.btf:
                btf, kid, vid = _btf()
                res = oracle.btf_load(encode(btf))
                if res.fd is None:
                    return None
                fds.append(res.fd)
                kw = {"btf_fd": res.fd, "btf_key_type_id": kid, "btf_value_type_id": vid}
            fd = oracle.map_create(
                md.type, md.key_size, md.value_size, md.max_entries, md.flags, name="m", **kw
            )
            fds.append(fd)
            map_fds.append(fd)
        pt = ProgType(prog_type_from_name(case.prog_type))
        k = oracle.prog_load(pt, assemble_c(case.text), fd_array=map_fds, log_level=1)
        if k.fd is not None:
            oracle.close(k.fd)
        return _answer(k.errno == 0, k.errno, oracle.log_message(k.log))
    except oracle.OracleError:
        return None
    finally:
        for fd in fds:
            oracle.close(fd)


def _comparable(case: Case, answer: dict[str, Any]) -> dict[str, Any]:
    return answer if case.same_message else {**answer, "message": None}


def recorded() -> dict[str, Any]:
    return dict(json.loads(DATA.read_text()))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_matches_recorded_kernel(case: Case) -> None:
    assert _comparable(case, pybpf_answer(case)) == _comparable(case, recorded()[case.name])


@pytest.mark.kernel
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_matches_running_kernel(case: Case) -> None:
    got = kernel_answer(case)
    if got is None:
        pytest.skip("bpf() refused")
    assert _comparable(case, pybpf_answer(case)) == _comparable(case, got)


def test_recorded_answers_cover_both_verdicts() -> None:
    """Guards a bad recording: the key cases are refused or accepted as the kernel rules say."""
    data = recorded()
    assert (
        data["sk_storage_lookup_tc"]["message"]
        == "cannot pass map_type 24 into func bpf_map_lookup_elem#1"
    )
    assert (
        data["sockmap_delete_raw_tp"]["message"]
        == "cannot pass map_type 15 into func bpf_map_delete_elem#3"
    )
    assert (
        data["sockmap_update_sock_ops"]["message"]
        == "cannot pass map_type 15 into func bpf_map_update_elem#2"
    )
    for name in (
        "sock_map_update_sock_ops",
        "sockmap_delete_sock_ops",
        "sockmap_update_tc",
        "sk_storage_get_tc",
    ):
        assert data[name]["accepted"], name
    assert not data["pkt_read_after_tail_call"]["accepted"]


def _record() -> int:
    out: dict[str, Any] = {}
    for case in CASES:
        got = kernel_answer(case)
        if got is None:
            print("bpf() refused: nothing recorded", file=sys.stderr)
            return 1
        out[case.name] = got
    DATA.parent.mkdir(parents=True, exist_ok=True)
    DATA.write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")
    print(f"wrote {DATA} ({len(out)} cases)")
    return 0


if __name__ == "__main__":
    raise SystemExit(_record())
