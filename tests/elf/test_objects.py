"""Objects from clang opened, loaded and run: programs, maps, global data, calls."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

import pybpf
from pybpf.elf import MapOrigin, RelocKind
from pybpf.errors import BpfError
from pybpf.isa.opcodes import PseudoCall, PseudoLdImm64
from pybpf.kernel.progtypes import AttachType, ProgType
from pybpf.maps.types import MapFlag, MapType

PKT = bytes(range(64))


def test_programs_and_sections(objects: dict[str, Path]) -> None:
    obj = pybpf.open(objects["maps"])
    assert obj.name == "maps"
    assert obj.license == "Dual BSD/GPL"
    assert list(obj.programs) == ["xdp_count", "xdp_drop_short", "xdp_optional", "sock_len",
                                  "tc_mark", "cg_allow"]  # fmt: skip
    p = obj.programs["xdp_drop_short"]
    assert (p.section, p.prog_type, p.expected_attach_type) == ("xdp", ProgType.XDP, AttachType.XDP)
    assert not obj.programs["xdp_optional"].autoload
    assert obj.programs["cg_allow"].expected_attach_type == AttachType.CGROUP_INET_INGRESS
    assert obj.programs["tc_mark"].prog_type == ProgType.SCHED_CLS


def test_btf_maps(objects: dict[str, Path]) -> None:
    obj = pybpf.open(objects["maps"])
    specs = {name: m.spec for name, m in obj.maps.items()}
    assert [(s.type, s.key_size, s.value_size, s.max_entries) for s in specs.values()] == [
        (MapType.ARRAY, 4, 8, 4), (MapType.PERCPU_ARRAY, 4, 8, 1),
        (MapType.LRU_HASH, 8, 4, 128), (MapType.HASH, 4, 16, 64),
    ]  # fmt: skip
    assert specs["stats_by_len"].btf is not None
    assert specs["stats_by_len"].btf.value.name == "pkt_stats"


def test_load_and_run_xdp(objects: dict[str, Path]) -> None:
    with pybpf.open(objects["maps"]) as obj:
        obj.load()
        assert obj.programs["xdp_optional"].program is None
        prog = obj.programs["xdp_count"]
        for _ in range(3):
            assert prog.run(PKT).retval == 2
        assert prog.run(PKT[:20]).retval == 2
        stats = obj.maps["stats_by_len"]
        assert int.from_bytes(stats[(64).to_bytes(4, "little")][:8], "little") == 3
        assert int.from_bytes(obj.maps["verdicts"][2], "little") == 4
        assert obj.programs["xdp_drop_short"].run(PKT[:14]).retval == 2
        assert int.from_bytes(obj.maps["verdicts"][1], "little") == 0
        with pytest.raises(pybpf.BpfError, match="not loaded"):
            obj.programs["xdp_optional"].run(PKT)


def test_autoload_can_be_turned_on(objects: dict[str, Path]) -> None:
    obj = pybpf.open(objects["maps"])
    obj.programs["xdp_optional"].autoload = True
    obj.load()
    assert obj.programs["xdp_optional"].run(PKT).retval == 3
    obj.close()


def test_global_data(objects: dict[str, Path]) -> None:
    obj = pybpf.open(objects["globals"])
    assert [m.name for m in obj.spec.maps] == ["globals.rodata", "globals.bss", "globals.data",
                                               ".rodata.str1.1"]  # fmt: skip
    origins = [m.origin for m in obj.spec.maps]
    assert origins == [MapOrigin.RODATA, MapOrigin.BSS, MapOrigin.DATA, MapOrigin.RODATA]
    ro = obj.maps["globals.rodata"].spec
    assert ro.flags == MapFlag.RDONLY_PROG | MapFlag.MMAPABLE
    assert obj.maps[".rodata.str1.1"].spec.flags == MapFlag.RDONLY_PROG
    assert dict(obj.rodata.items()) == {"debug_mode": 0, "multiplier": 3}
    assert obj.data.name == b"pybpf\0\0\0"
    obj.rodata.multiplier = 5
    obj.rodata["debug_mode"] = 0
    obj.data.name = b"x"
    obj.load()
    r = obj.programs["xdp_globals"].run(PKT)
    assert r.retval == 1  # name[0] is no longer 'p'
    assert obj.bss.counter == 1 and obj.bss.last_len == 64 * 5 and obj.bss.hidden_total == 64
    obj.programs["xdp_globals"].run(PKT[:20])
    assert obj.bss.counter == 2 and obj.bss.last_len == 100
    with pytest.raises(pybpf.BpfError) as exc:
        obj.rodata.multiplier = 1
    assert exc.value.errno == errno.EPERM
    obj.bss.counter = 100  # data and bss stay writable, as a skeleton's mmap
    obj.programs["xdp_globals"].run(PKT)
    assert obj.bss.counter == 101
    obj.close()


def test_rodata_prunes_dead_branch(objects: dict[str, Path]) -> None:
    """With debug_mode = 0 frozen, the verifier never walks the trace_printk call."""
    counts = {}
    for debug in (0, 1):
        obj = pybpf.open(objects["globals"])
        obj.rodata.debug_mode = debug
        obj.load()
        counts[debug] = obj.programs["xdp_globals"].program.verified.insns_processed  # type: ignore[union-attr]
        obj.close()
    assert counts[0] < counts[1]


def test_global_data_references_are_map_values(objects: dict[str, Path]) -> None:
    obj = pybpf.open(objects["globals"])
    insns = obj.programs["xdp_globals"].insns
    loads = [(i, insn) for i, insn in enumerate(insns) if insn.code == 0x18]
    assert all(insn.src == PseudoLdImm64.MAP_IDX_VALUE for _, insn in loads)
    # multiplier is at offset 4 of .rodata (map 0); hidden_total at 4 of .bss (map 1)
    offsets = {(insn.imm, insns[i + 1].imm) for i, insn in loads}
    assert (0, 4) in offsets and (1, 4) in offsets and (1, 8) in offsets


def test_values_set_before_load_are_checked(objects: dict[str, Path]) -> None:
    obj = pybpf.open(objects["globals"])
    with pytest.raises(pybpf.BpfError, match="does not fit"):
        obj.rodata.multiplier = 1 << 40
    with pytest.raises(pybpf.BpfError, match="no variable"):
        obj.rodata.nonexistent = 1
    with pytest.raises(AttributeError):
        _ = obj.rodata.nonexistent
    with pytest.raises(pybpf.BpfError, match="no global data section"):
        obj.section(".data.none")


def test_bpf_to_bpf_calls(objects: dict[str, Path]) -> None:
    obj = pybpf.open(objects["calls"])
    xdp = obj.programs["xdp_calls"].link()
    tc = obj.programs["tc_calls"].link()
    assert [n for n, _ in xdp.subprogs] == ["sum_squares", "square", "store"]
    assert [n for n, _ in tc.subprogs] == ["square", "store"]
    # every pseudo call lands on the first instruction of a subprogram
    for linked in (xdp, tc):
        starts = {off for _, off in linked.subprogs}
        for i, insn in enumerate(linked.insns):
            if insn.code == 0x85 and insn.src == PseudoCall.CALL:
                assert i + insn.imm + 1 in starts
    obj.programs["xdp_loop_cb"].autoload = False  # callbacks need func_info in the verifier
    obj.load()
    res = obj.maps["results"]
    obj.programs["xdp_calls"].run(PKT[:14])
    assert int.from_bytes(res[0], "little") == sum(i * i for i in range(1, 15))
    obj.programs["tc_calls"].run(PKT)
    assert int.from_bytes(res[1], "little") == 64 * 64
    obj.close()


def test_callback_address_is_pseudo_func(objects: dict[str, Path]) -> None:
    obj = pybpf.open(objects["calls"])
    linked = obj.programs["xdp_loop_cb"].link()
    funcs = [(i, insn) for i, insn in enumerate(linked.insns)
             if insn.code == 0x18 and insn.src == PseudoLdImm64.FUNC]  # fmt: skip
    assert len(funcs) == 1
    i, insn = funcs[0]
    assert [n for n, _ in linked.subprogs] == ["add_one"]
    assert i + insn.imm + 1 == linked.subprogs[0][1]


def test_func_and_line_info_follow_subprograms(objects: dict[str, Path]) -> None:
    obj = pybpf.open(objects["calls"])
    linked = obj.programs["xdp_calls"].link()
    starts = [0, *(off for _, off in linked.subprogs)]
    assert [fi.insn_off for fi in linked.func_info] == starts
    assert linked.line_info[0].insn_off == 0
    assert all(li.file_name.endswith("calls.c") for li in linked.line_info)
    assert linked.line_info[0].log_text().endswith("@ calls.c:39")
    assert max(li.insn_off for li in linked.line_info) < len(linked.insns)


def test_map_in_map_and_tail_calls(objects: dict[str, Path]) -> None:
    obj = pybpf.open(objects["mapinmap"])
    outer = obj.maps["outer"].definition
    assert outer.init_slots == ["inner_a", None, "inner_b"]
    assert outer.spec.inner is not None and outer.spec.inner.type == MapType.ARRAY
    assert obj.maps["jump_table"].definition.init_slots == [None, "xdp_tail_pass", "xdp_tail_drop"]
    obj.load()
    assert obj.programs["xdp_inner"].run(PKT).retval == 2
    assert obj.programs["xdp_inner"].run(PKT).retval == 2
    assert obj.maps["inner_b"][0] == (2).to_bytes(4, "little")
    assert obj.maps["inner_a"][0] == bytes(4)
    dispatch = obj.programs["xdp_dispatch"]
    assert dispatch.run(bytes(61)).retval == 2  # 61 & 3 = 1: xdp_tail_pass
    assert dispatch.run(bytes(62)).retval == 1  # 2: xdp_tail_drop
    assert dispatch.run(bytes(60)).retval == 0  # 0: empty slot, falls through
    obj.close()


def test_legacy_maps(objects: dict[str, Path]) -> None:
    obj = pybpf.open(objects["legacy"])
    assert [(m.name, m.origin) for m in obj.spec.maps] == [
        ("legacy_counts", MapOrigin.LEGACY), ("legacy_hash", MapOrigin.LEGACY)]
    relocs = obj.spec.programs[0].relocs
    assert {r.kind for r in relocs} == {RelocKind.LD64}
    obj.load()
    obj.programs["legacy_prog"].run(PKT[:19])  # a socket filter sees len 19 - 14 = 5
    assert int.from_bytes(obj.maps["legacy_counts"][5], "little") == 1
    assert obj.maps["legacy_hash"][5] == (5).to_bytes(4, "little")


def test_kconfig_and_custom_sections(objects: dict[str, Path], state_dir: Path) -> None:
    obj = pybpf.open(objects["kconfig"])
    names = [m.name for m in obj.spec.maps]
    assert names == ["pinned_counts", ".data.custom", ".rodata.limits", "kconfig.bss",
                     "kconfig.kconfig"]  # fmt: skip
    assert obj.section(".rodata.limits").limit == 7
    obj.section(".rodata.limits").limit = 3
    obj.load()
    assert obj.programs["xdp_kconfig"].run(PKT).retval == 2
    assert obj.bss.kver == (6 << 16) + (18 << 8)
    assert obj.section(".data.custom").seen_hz == 250
    kc = obj.kconfig_data
    assert kc.CONFIG_HZ == 250 and kc.CONFIG_BPF_SYSCALL is True and kc.CONFIG_PYBPF_MISSING == 0
    assert obj.maps["pinned_counts"][3] == (1).to_bytes(8, "little")
    obj.close()
    assert (state_dir / "maps" / "pinned_counts.json").exists()


def test_kconfig_override_and_strong_missing(objects: dict[str, Path], state_dir: Path) -> None:
    obj = pybpf.open(objects["kconfig"], kconfig="CONFIG_HZ=1000\nCONFIG_BPF_SYSCALL=n\n")
    obj.load()
    assert obj.programs["xdp_kconfig"].run(PKT).retval == 1
    assert obj.section(".data.custom").seen_hz == 1000
    obj.close()
    obj = pybpf.open(objects["kconfig"], kconfig={"CONFIG_HZ": '"text"'})
    with pytest.raises(pybpf.BpfError, match="implies char array"):
        obj.load()


def test_pinned_map_is_reused(objects: dict[str, Path], state_dir: Path) -> None:
    for expected in (1, 2, 3):
        obj = pybpf.open(objects["kconfig"])
        obj.load()
        obj.programs["xdp_kconfig"].run(PKT)
        assert obj.maps["pinned_counts"][7] == expected.to_bytes(8, "little")
        obj.close()


def test_rejection_carries_errno_and_source_lines(objects: dict[str, Path]) -> None:
    obj = pybpf.open(objects["rejects"])
    obj.programs["unknown_sec"].autoload = False
    with pytest.raises(pybpf.obj.ProgramLoadError) as exc:
        obj.load()
    err = exc.value
    assert err.errno == errno.EACCES and err.program == "xdp_null_deref"
    assert "R0 invalid mem access 'map_value_or_null'" in err.message
    assert "; return *v ? XDP_PASS : XDP_DROP; @ rejects.c:" in err.log
    # nothing is left behind
    assert all(m.map is None for m in obj.maps.values())
    assert not obj.kernel.maps and not obj.kernel.programs


def test_verify_every_program(objects: dict[str, Path]) -> None:
    verdicts = {v.name: v for v in pybpf.open(objects["rejects"]).verify()}
    assert verdicts["xdp_ok"].accepted and verdicts["xdp_ok"].insns_processed == 2
    assert (verdicts["xdp_null_deref"].errno, verdicts["sock_oob"].errno) == (13, 13)
    unknown = verdicts["unknown_sec"]
    assert unknown.errno == errno.EINVAL and "section name" in unknown.message


def test_gpl_only_helpers_follow_the_license(objects: dict[str, Path]) -> None:
    verdicts = {v.name: v for v in pybpf.open(objects["nongpl"]).verify()}
    assert verdicts["plain"].accepted
    bad = verdicts["printk_user"]
    assert bad.errno == errno.EINVAL
    assert bad.message == "cannot call GPL-restricted function from non-GPL compatible program"


def test_open_from_bytes(objects: dict[str, Path]) -> None:
    obj = pybpf.open(objects["maps"].read_bytes(), name="frombytes")
    assert obj.name == "frombytes" and len(obj.programs) == 6


def test_objects_share_pinned_maps_in_one_kernel(objects: dict[str, Path], state_dir: Path) -> None:
    """Two objects of one kernel pinning the same map by name use the same map."""
    kernel = pybpf.Kernel(seed=0)
    a = pybpf.open(objects["kconfig"], kernel=kernel).load()
    b = pybpf.open(objects["kconfig"], kernel=kernel).load()
    assert a.maps["pinned_counts"].map is b.maps["pinned_counts"].map
    a.programs["xdp_kconfig"].run(PKT)
    b.programs["xdp_kconfig"].run(PKT)
    assert b.maps["pinned_counts"][7] == (2).to_bytes(8, "little")
    a.close()
    assert not b.maps["pinned_counts"].map.closed  # type: ignore[union-attr]
    b.programs["xdp_kconfig"].run(PKT)
    b.close()
    c = pybpf.open(objects["kconfig"], kernel=kernel).load()  # read back from the state dir
    assert c.maps["pinned_counts"][7] == (3).to_bytes(8, "little")
    c.close()


def test_reuse_a_map(objects: dict[str, Path]) -> None:
    kernel = pybpf.Kernel(seed=0)
    first = pybpf.open(objects["maps"], kernel=kernel).load()
    second = pybpf.open(objects["maps"], kernel=kernel)
    second.maps["verdicts"].reuse(first.maps["verdicts"].map)  # type: ignore[arg-type]
    with pytest.raises(pybpf.BpfError, match="parameter mismatch"):
        second.maps["scratch"].reuse(first.maps["verdicts"].map)  # type: ignore[arg-type]
    second.load()
    second.programs["xdp_count"].run(PKT)
    assert int.from_bytes(first.maps["verdicts"][2], "little") == 1
    second.close()
    first.programs["xdp_count"].run(PKT)
    assert int.from_bytes(first.maps["verdicts"][2], "little") == 2
    first.close()


def test_maps_by_section_name(objects: dict[str, Path]) -> None:
    obj = pybpf.open(objects["globals"])
    assert obj.maps[".rodata"] is obj.maps["globals.rodata"]
    assert obj.maps.get(".rodata.str1.1") is obj.maps[".rodata.str1.1"]
    assert obj.maps.get(".nothing") is None
    with pytest.raises(KeyError):
        obj.maps["rodata"]
    assert pybpf.open(objects["globals"].read_bytes()).spec.maps[0].name == "obj.rodata"


def test_license_and_version_sections(tmp_path: Path) -> None:
    """``license`` decides GPL-only helpers; ``version`` (4 bytes) is read, anything
    else in it is refused as libbpf does."""
    from .conftest import CLANG, SRC, compile_c

    if CLANG is None:
        pytest.skip("clang-19 is not installed")
    src = tmp_path / "kver.c"
    body = ('#include "pybpf_test.h"\n'
            'SEC("kprobe/do_nanosleep") int probe(void *ctx) { return 0; }\n'
            'char _license[] SEC("license") = "Dual BSD/GPL";\n')  # fmt: skip
    src.write_text(body + '__u32 _version SEC("version") = 0x060c00;\n')
    obj = pybpf.open(compile_c(src, tmp_path / "kver.o", (f"-I{SRC}",)))
    assert (obj.license, obj.kern_version) == ("Dual BSD/GPL", 0x060C00)
    src.write_text(body + '__u64 _version SEC("version") = 1;\n')
    with pytest.raises(BpfError, match="invalid kver section") as exc:
        pybpf.open(compile_c(src, tmp_path / "kver8.o", (f"-I{SRC}",)))
    assert exc.value.errno == errno.EINVAL
    src.write_text(body)
    assert pybpf.open(compile_c(src, tmp_path / "nokver.o", (f"-I{SRC}",))).kern_version == 0


def test_verify_when_a_map_cannot_be_created(objects: dict[str, Path]) -> None:
    """A map the kernel would refuse fails the whole load; ``verify`` gives every program
    that answer (as libbpf loading any one of them would), not an exception."""
    obj = pybpf.open(objects["maps"])
    obj.maps["verdicts"].set_max_entries(0)
    verdicts = obj.verify()
    assert verdicts and all(not v.accepted and v.errno == errno.EINVAL for v in verdicts)
    assert all(v.message.startswith("map 'verdicts': failed to create") for v in verdicts)
    with pytest.raises(BpfError, match="map 'verdicts': failed to create"):
        obj.load()


def test_perf_event_array_without_size_gets_one_slot_per_cpu(tmp_path: Path) -> None:
    from .conftest import CLANG, SRC, compile_c

    if CLANG is None:
        pytest.skip("clang-19 is not installed")
    src = tmp_path / "perf.c"
    src.write_text('#include "pybpf_test.h"\n'
                   'struct { __uint(type, 4); __uint(key_size, 4); __uint(value_size, 4); }'
                   ' events SEC(".maps");\n'
                   'SEC("xdp") int prog(void *ctx) { return 2; }\n'
                   'char _license[] SEC("license") = "GPL";\n')  # fmt: skip
    kernel = pybpf.Kernel(seed=0)
    obj = pybpf.open(compile_c(src, tmp_path / "perf.o", (f"-I{SRC}",)), kernel=kernel)
    assert obj.maps["events"].spec.max_entries == 0
    obj.load()
    assert obj.maps["events"].spec.max_entries == kernel.num_cpus > 0
    obj.close()
