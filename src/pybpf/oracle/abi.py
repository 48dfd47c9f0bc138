"""ctypes layouts of the parts of ``union bpf_attr`` and the info structs the oracle uses.

Each command gets its own Structure, sized to the fields the oracle fills; the kernel
copies ``size`` bytes and treats anything it knows beyond them as zero, so a shorter
layout is valid on newer kernels.  Every 64-bit field sits at an 8-aligned offset in the
UAPI (pointers travel as ``__aligned_u64``), which ctypes' natural alignment reproduces on
64-bit hosts; ``tests/oracle/test_abi.py`` pins the offsets.
"""

from __future__ import annotations

import ctypes

_u32 = ctypes.c_uint32
_s32 = ctypes.c_int32
_u64 = ctypes.c_uint64
_name = ctypes.c_char * 16


class MapCreateAttr(ctypes.Structure):
    _fields_ = (
        ("map_type", _u32),
        ("key_size", _u32),
        ("value_size", _u32),
        ("max_entries", _u32),
        ("map_flags", _u32),
        ("inner_map_fd", _u32),
        ("numa_node", _u32),
        ("map_name", _name),
        ("map_ifindex", _u32),
        ("btf_fd", _u32),
        ("btf_key_type_id", _u32),
        ("btf_value_type_id", _u32),
        ("btf_vmlinux_value_type_id", _u32),
        ("map_extra", _u64),
        ("value_type_btf_obj_fd", _s32),
        ("map_token_fd", _s32),
    )


class MapElemAttr(ctypes.Structure):
    """BPF_MAP_{LOOKUP,UPDATE,DELETE}_ELEM, GET_NEXT_KEY, LOOKUP_AND_DELETE, FREEZE."""

    _fields_ = (
        ("map_fd", _u32),
        ("key", _u64),
        ("value", _u64),  # also next_key
        ("flags", _u64),
    )


class MapBatchAttr(ctypes.Structure):
    _fields_ = (
        ("in_batch", _u64),
        ("out_batch", _u64),
        ("keys", _u64),
        ("values", _u64),
        ("count", _u32),
        ("map_fd", _u32),
        ("elem_flags", _u64),
        ("flags", _u64),
    )


class ProgLoadAttr(ctypes.Structure):
    _fields_ = (
        ("prog_type", _u32),
        ("insn_cnt", _u32),
        ("insns", _u64),
        ("license", _u64),
        ("log_level", _u32),
        ("log_size", _u32),
        ("log_buf", _u64),
        ("kern_version", _u32),
        ("prog_flags", _u32),
        ("prog_name", _name),
        ("prog_ifindex", _u32),
        ("expected_attach_type", _u32),
        ("prog_btf_fd", _u32),
        ("func_info_rec_size", _u32),
        ("func_info", _u64),
        ("func_info_cnt", _u32),
        ("line_info_rec_size", _u32),
        ("line_info", _u64),
        ("line_info_cnt", _u32),
        ("attach_btf_id", _u32),
        ("attach_prog_fd", _u32),  # also attach_btf_obj_fd
        ("core_relo_cnt", _u32),
        ("fd_array", _u64),
        ("core_relos", _u64),
        ("core_relo_rec_size", _u32),
        ("log_true_size", _u32),
        ("prog_token_fd", _s32),
    )


class TestRunAttr(ctypes.Structure):
    __test__ = False  # not a pytest class, despite the name

    _fields_ = (
        ("prog_fd", _u32),
        ("retval", _u32),
        ("data_size_in", _u32),
        ("data_size_out", _u32),
        ("data_in", _u64),
        ("data_out", _u64),
        ("repeat", _u32),
        ("duration", _u32),
        ("ctx_size_in", _u32),
        ("ctx_size_out", _u32),
        ("ctx_in", _u64),
        ("ctx_out", _u64),
        ("flags", _u32),
        ("cpu", _u32),
        ("batch_size", _u32),
    )


class GetIdAttr(ctypes.Structure):
    """BPF_*_GET_NEXT_ID and BPF_*_GET_FD_BY_ID."""

    _fields_ = (
        ("id", _u32),  # start_id / prog_id / map_id / btf_id / link_id
        ("next_id", _u32),
        ("open_flags", _u32),
    )


class InfoAttr(ctypes.Structure):
    _fields_ = (
        ("bpf_fd", _u32),
        ("info_len", _u32),
        ("info", _u64),
    )


class BtfLoadAttr(ctypes.Structure):
    _fields_ = (
        ("btf", _u64),
        ("btf_log_buf", _u64),
        ("btf_size", _u32),
        ("btf_log_size", _u32),
        ("btf_log_level", _u32),
        ("btf_log_true_size", _u32),
        ("btf_flags", _u32),
        ("btf_token_fd", _s32),
    )


class MapInfoStruct(ctypes.Structure):
    _fields_ = (
        ("type", _u32),
        ("id", _u32),
        ("key_size", _u32),
        ("value_size", _u32),
        ("max_entries", _u32),
        ("map_flags", _u32),
        ("name", _name),
        ("ifindex", _u32),
        ("btf_vmlinux_value_type_id", _u32),
        ("netns_dev", _u64),
        ("netns_ino", _u64),
        ("btf_id", _u32),
        ("btf_key_type_id", _u32),
        ("btf_value_type_id", _u32),
        ("btf_vmlinux_id", _u32),
        ("map_extra", _u64),
    )


class ProgInfoStruct(ctypes.Structure):
    _fields_ = (
        ("type", _u32),
        ("id", _u32),
        ("tag", ctypes.c_uint8 * 8),
        ("jited_prog_len", _u32),
        ("xlated_prog_len", _u32),
        ("jited_prog_insns", _u64),
        ("xlated_prog_insns", _u64),
        ("load_time", _u64),
        ("created_by_uid", _u32),
        ("nr_map_ids", _u32),
        ("map_ids", _u64),
        ("name", _name),
        ("ifindex", _u32),
        ("gpl_bits", _u32),  # bit 0: gpl_compatible
        ("netns_dev", _u64),
        ("netns_ino", _u64),
        ("nr_jited_ksyms", _u32),
        ("nr_jited_func_lens", _u32),
        ("jited_ksyms", _u64),
        ("jited_func_lens", _u64),
        ("btf_id", _u32),
        ("func_info_rec_size", _u32),
        ("func_info", _u64),
        ("nr_func_info", _u32),
        ("nr_line_info", _u32),
        ("line_info", _u64),
        ("jited_line_info", _u64),
        ("nr_jited_line_info", _u32),
        ("line_info_rec_size", _u32),
        ("jited_line_info_rec_size", _u32),
        ("nr_prog_tags", _u32),
        ("prog_tags", _u64),
        ("run_time_ns", _u64),
        ("run_cnt", _u64),
        ("recursion_misses", _u64),
        ("verified_insns", _u32),
        ("attach_btf_obj_id", _u32),
        ("attach_btf_id", _u32),
        ("_pad", _u32),
    )


class BtfInfoStruct(ctypes.Structure):
    _fields_ = (
        ("btf", _u64),
        ("btf_size", _u32),
        ("id", _u32),
        ("name", _u64),
        ("name_len", _u32),
        ("kernel_btf", _u32),
    )
