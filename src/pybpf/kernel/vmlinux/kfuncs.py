"""Kernel functions programs may call (kfuncs): their prototypes, flags and sets.

A kfunc is a FUNC in the kernel's BTF; a program calls it by that BTF id (``call``
with ``src_reg`` ``BPF_PSEUDO_KFUNC_CALL``), and the loader resolves an
``extern ... __ksym`` declaration to the id by name.  What the verifier may assume
about a call comes from the flags the kernel registers with the function
(:class:`KfuncFlag`) and from parameter-name suffixes (``__k``, ``__sz``,
``__nullable``, ``__ign``, ``__uninit`` ...) kept in the prototype's BTF.

This module only declares; which program types may call which set, and what each
function does, belong to the subsystems that implement them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntFlag


class KfuncFlag(IntFlag):
    """The kernel's ``KF_*`` flags, with its bit values."""

    ACQUIRE = 1 << 0
    """Returns a referenced pointer the program must release."""
    RELEASE = 1 << 1
    """Releases the referenced pointer passed as its argument."""
    RET_NULL = 1 << 2
    """The returned pointer may be NULL and must be checked."""
    TRUSTED_ARGS = 1 << 4
    """Pointer arguments must be trusted (referenced or passed by the kernel)."""
    SLEEPABLE = 1 << 5
    DESTRUCTIVE = 1 << 6
    RCU = 1 << 7
    """Pointer arguments may be RCU-protected as well as trusted."""
    ITER_NEW = 1 << 8
    ITER_NEXT = 1 << 9
    ITER_DESTROY = 1 << 10
    RCU_PROTECTED = 1 << 11
    """Must be called inside an RCU read-side section."""
    FASTCALL = 1 << 12


@dataclass(frozen=True, slots=True)
class KfuncSpec:
    """One declared kfunc: the set it is registered in, its flags, its C prototype."""

    kset: str
    flags: KfuncFlag
    proto: str


@dataclass(frozen=True, slots=True)
class KfuncDesc:
    """A kfunc as the kernel BTF has it: name, FUNC id, FUNC_PROTO id, flags, set."""

    name: str
    func_id: int
    proto_id: int
    flags: KfuncFlag
    kset: str


F = KfuncFlag
_ACQ_NULL = F.ACQUIRE | F.RET_NULL

KFUNCS: tuple[KfuncSpec, ...] = (
    # objects, lists and trees of the program's own types (kernel/bpf/helpers.c)
    KfuncSpec("generic", _ACQ_NULL, "void *bpf_obj_new_impl(u64 local_type_id__k, void *meta__ign);"),
    KfuncSpec("generic", _ACQ_NULL, "void *bpf_percpu_obj_new_impl(u64 local_type_id__k, void *meta__ign);"),
    KfuncSpec("generic", F.RELEASE, "void bpf_obj_drop_impl(void *p__alloc, void *meta__ign);"),
    KfuncSpec("generic", F.RELEASE, "void bpf_percpu_obj_drop_impl(void *p__alloc, void *meta__ign);"),
    KfuncSpec("generic", _ACQ_NULL | F.RCU,
              "void *bpf_refcount_acquire_impl(void *p__refcounted_kptr, void *meta__ign);"),
    KfuncSpec("generic", F(0), "int bpf_list_push_front_impl(struct bpf_list_head *head, "
              "struct bpf_list_node *node, void *meta__ign, u64 off);"),
    KfuncSpec("generic", F(0), "int bpf_list_push_back_impl(struct bpf_list_head *head, "
              "struct bpf_list_node *node, void *meta__ign, u64 off);"),
    KfuncSpec("generic", _ACQ_NULL, "struct bpf_list_node *bpf_list_pop_front(struct bpf_list_head *head);"),
    KfuncSpec("generic", _ACQ_NULL, "struct bpf_list_node *bpf_list_pop_back(struct bpf_list_head *head);"),
    KfuncSpec("generic", _ACQ_NULL, "struct bpf_rb_node *bpf_rbtree_remove(struct bpf_rb_root *root, "
              "struct bpf_rb_node *node);"),
    KfuncSpec("generic", F(0), "int bpf_rbtree_add_impl(struct bpf_rb_root *root, struct bpf_rb_node *node, "
              "bool (*less)(struct bpf_rb_node *, const struct bpf_rb_node *), void *meta__ign, u64 off);"),
    KfuncSpec("generic", F.RET_NULL, "struct bpf_rb_node *bpf_rbtree_first(struct bpf_rb_root *root);"),
    # tasks and cgroups
    KfuncSpec("generic", _ACQ_NULL | F.RCU, "struct task_struct *bpf_task_acquire(struct task_struct *p);"),
    KfuncSpec("generic", F.RELEASE, "void bpf_task_release(struct task_struct *p);"),
    KfuncSpec("generic", _ACQ_NULL, "struct task_struct *bpf_task_from_pid(s32 pid);"),
    KfuncSpec("generic", _ACQ_NULL | F.RCU, "struct cgroup *bpf_cgroup_acquire(struct cgroup *cgrp);"),
    KfuncSpec("generic", F.RELEASE, "void bpf_cgroup_release(struct cgroup *cgrp);"),
    KfuncSpec("generic", _ACQ_NULL | F.RCU, "struct cgroup *bpf_cgroup_ancestor(struct cgroup *cgrp, int level);"),
    KfuncSpec("generic", _ACQ_NULL, "struct cgroup *bpf_cgroup_from_id(u64 cgid);"),
    KfuncSpec("generic", F.RCU, "long bpf_task_under_cgroup(struct task_struct *task, struct cgroup *ancestor);"),
    # casts, RCU, exceptions, dynptrs, numeric iterators, preemption
    KfuncSpec("common", F(0), "void *bpf_cast_to_kern_ctx(void *obj);"),
    KfuncSpec("common", F(0), "void *bpf_rdonly_cast(const void *obj__ign, u32 btf_id__k);"),
    KfuncSpec("common", F(0), "void bpf_rcu_read_lock(void);"),
    KfuncSpec("common", F(0), "void bpf_rcu_read_unlock(void);"),
    KfuncSpec("generic", F(0), "void bpf_throw(u64 cookie);"),
    KfuncSpec("common", F.RET_NULL, "void *bpf_dynptr_slice(const struct bpf_dynptr *p, u32 offset, "
              "void *buffer__opt, u32 buffer__szk);"),
    KfuncSpec("common", F.RET_NULL, "void *bpf_dynptr_slice_rdwr(const struct bpf_dynptr *p, u32 offset, "
              "void *buffer__opt, u32 buffer__szk);"),
    KfuncSpec("common", F(0), "int bpf_dynptr_adjust(const struct bpf_dynptr *p, u32 start, u32 end);"),
    KfuncSpec("common", F(0), "bool bpf_dynptr_is_null(const struct bpf_dynptr *p);"),
    KfuncSpec("common", F(0), "bool bpf_dynptr_is_rdonly(const struct bpf_dynptr *p);"),
    KfuncSpec("common", F(0), "__u32 bpf_dynptr_size(const struct bpf_dynptr *p);"),
    KfuncSpec("common", F(0), "int bpf_dynptr_clone(const struct bpf_dynptr *p, struct bpf_dynptr *clone__uninit);"),
    KfuncSpec("common", F.ITER_NEW, "int bpf_iter_num_new(struct bpf_iter_num *it, int start, int end);"),
    KfuncSpec("common", F.ITER_NEXT | F.RET_NULL, "int *bpf_iter_num_next(struct bpf_iter_num *it);"),
    KfuncSpec("common", F.ITER_DESTROY, "void bpf_iter_num_destroy(struct bpf_iter_num *it);"),
    KfuncSpec("common", F.ITER_NEW, "int bpf_iter_bits_new(struct bpf_iter_bits *it, const u64 *unsafe_ptr__ign, u32 nr_words);"),
    KfuncSpec("common", F.ITER_NEXT | F.RET_NULL, "int *bpf_iter_bits_next(struct bpf_iter_bits *it);"),
    KfuncSpec("common", F.ITER_DESTROY, "void bpf_iter_bits_destroy(struct bpf_iter_bits *it);"),
    KfuncSpec("common", F(0), "void bpf_preempt_disable(void);"),
    KfuncSpec("common", F(0), "void bpf_preempt_enable(void);"),
    # keys and signatures (kernel/trace/bpf_trace.c, CONFIG_KEYS)
    KfuncSpec("key_sig", _ACQ_NULL | F.SLEEPABLE, "struct bpf_key *bpf_lookup_user_key(u32 serial, u64 flags);"),
    KfuncSpec("key_sig", _ACQ_NULL, "struct bpf_key *bpf_lookup_system_key(u64 id);"),
    KfuncSpec("key_sig", F.RELEASE, "void bpf_key_put(struct bpf_key *bkey);"),
    # (bpf_verify_pkcs7_signature is left out: pybpf does not check dynptr kfunc arguments yet)
    # maps (kernel/bpf/map_iter.c)
    KfuncSpec("map_iter", F.TRUSTED_ARGS, "s64 bpf_map_sum_elem_count(const struct bpf_map *map);"),
    # TCP congestion control (net/ipv4/bpf_tcp_ca.c and the built-in algorithms)
    KfuncSpec("tcp_ca", F(0), "u32 tcp_reno_ssthresh(struct sock *sk);"),
    KfuncSpec("tcp_ca", F(0), "void tcp_reno_cong_avoid(struct sock *sk, u32 ack, u32 acked);"),
    KfuncSpec("tcp_ca", F(0), "u32 tcp_reno_undo_cwnd(struct sock *sk);"),
    KfuncSpec("tcp_ca", F(0), "u32 tcp_slow_start(struct tcp_sock *tp, u32 acked);"),
    KfuncSpec("tcp_ca", F(0), "void tcp_cong_avoid_ai(struct tcp_sock *tp, u32 w, u32 acked);"),
    KfuncSpec("tcp_ca", F(0), "void cubictcp_init(struct sock *sk);"),
    KfuncSpec("tcp_ca", F(0), "u32 cubictcp_recalc_ssthresh(struct sock *sk);"),
    KfuncSpec("tcp_ca", F(0), "void cubictcp_cong_avoid(struct sock *sk, u32 ack, u32 acked);"),
    KfuncSpec("tcp_ca", F(0), "void cubictcp_state(struct sock *sk, u8 new_state);"),
    KfuncSpec("tcp_ca", F(0), "void cubictcp_cwnd_event(struct sock *sk, enum tcp_ca_event event);"),
    KfuncSpec("tcp_ca", F(0), "void cubictcp_acked(struct sock *sk, const struct ack_sample *sample);"),
    KfuncSpec("tcp_ca", F(0), "void dctcp_init(struct sock *sk);"),
    KfuncSpec("tcp_ca", F(0), "void dctcp_update_alpha(struct sock *sk, u32 flags);"),
    KfuncSpec("tcp_ca", F(0), "void dctcp_cwnd_event(struct sock *sk, enum tcp_ca_event ev);"),
    KfuncSpec("tcp_ca", F(0), "u32 dctcp_ssthresh(struct sock *sk);"),
    KfuncSpec("tcp_ca", F(0), "u32 dctcp_cwnd_undo(struct sock *sk);"),
    KfuncSpec("tcp_ca", F(0), "void dctcp_state(struct sock *sk, u8 new_state);"),
    KfuncSpec("tcp_ca", F(0), "void bbr_init(struct sock *sk);"),
    KfuncSpec("tcp_ca", F(0), "void bbr_main(struct sock *sk, u32 ack, int flag, const struct rate_sample *rs);"),
    KfuncSpec("tcp_ca", F(0), "u32 bbr_sndbuf_expand(struct sock *sk);"),
    KfuncSpec("tcp_ca", F(0), "u32 bbr_undo_cwnd(struct sock *sk);"),
    KfuncSpec("tcp_ca", F(0), "void bbr_cwnd_event(struct sock *sk, enum tcp_ca_event event);"),
    KfuncSpec("tcp_ca", F(0), "u32 bbr_ssthresh(struct sock *sk);"),
    KfuncSpec("tcp_ca", F(0), "u32 bbr_min_tso_segs(struct sock *sk);"),
    KfuncSpec("tcp_ca", F(0), "void bbr_set_state(struct sock *sk, u8 new_state);"),
    # the selftests' test kfuncs (net/bpf/test_run.c and bpf_testmod)
    KfuncSpec("test_sk", F.RELEASE, "void bpf_kfunc_call_test_release(struct prog_test_ref_kfunc *p);"),
    KfuncSpec("test_sk", F.RELEASE, "void bpf_kfunc_call_memb_release(struct prog_test_member *p);"),
    KfuncSpec("testmod", _ACQ_NULL,
              "struct prog_test_ref_kfunc *bpf_kfunc_call_test_acquire(unsigned long *scalar_ptr);"),
    KfuncSpec("testmod", _ACQ_NULL, "struct prog_test_member *bpf_kfunc_call_memb_acquire(void);"),
    KfuncSpec("testmod", F.RELEASE, "void bpf_kfunc_call_memb1_release(struct prog_test_member1 *p);"),
    KfuncSpec("testmod", F.TRUSTED_ARGS | F.RCU, "void bpf_kfunc_call_test_ref(struct prog_test_ref_kfunc *p);"),
    KfuncSpec("testmod", F.RET_NULL, "int *bpf_kfunc_call_test_get_rdwr_mem(struct prog_test_ref_kfunc *p, "
              "const int rdwr_buf_size);"),
    KfuncSpec("testmod", F.RET_NULL, "int *bpf_kfunc_call_test_get_rdonly_mem(struct prog_test_ref_kfunc *p, "
              "const int rdonly_buf_size);"),
    KfuncSpec("testmod", _ACQ_NULL, "int *bpf_kfunc_call_test_acq_rdonly_mem(struct prog_test_ref_kfunc *p, "
              "const int rdonly_buf_size);"),
    KfuncSpec("testmod", F.RELEASE, "void bpf_kfunc_call_int_mem_release(int *p);"),
    KfuncSpec("testmod", F(0), "__u64 bpf_kfunc_call_test1(struct sock *sk, __u32 a, __u64 b, __u32 c, __u64 d);"),
    KfuncSpec("testmod", F(0), "int bpf_kfunc_call_test2(struct sock *sk, __u32 a, __u32 b);"),
    KfuncSpec("testmod", F(0), "struct sock *bpf_kfunc_call_test3(struct sock *sk);"),
    KfuncSpec("testmod", F(0), "long bpf_kfunc_call_test4(signed char a, short b, int c, long d);"),
    KfuncSpec("testmod", F(0), "void bpf_kfunc_call_test_mem_len_pass1(void *mem, int mem__sz);"),
    KfuncSpec("testmod", F(0), "void bpf_kfunc_call_test_mem_len_fail1(void *mem, int len);"),
    KfuncSpec("testmod", F(0), "void bpf_kfunc_call_test_mem_len_fail2(__u64 *mem, int len);"),
    KfuncSpec("testmod", F(0), "void bpf_kfunc_call_test_pass_ctx(struct __sk_buff *skb);"),
    KfuncSpec("testmod", F(0), "void bpf_kfunc_call_test_pass1(struct prog_test_pass1 *p);"),
    KfuncSpec("testmod", F(0), "void bpf_kfunc_call_test_pass2(struct prog_test_pass2 *p);"),
    KfuncSpec("testmod", F(0), "void bpf_kfunc_call_test_fail1(struct prog_test_fail1 *p);"),
    KfuncSpec("testmod", F(0), "void bpf_kfunc_call_test_fail2(struct prog_test_fail2 *p);"),
    KfuncSpec("testmod", F(0), "void bpf_kfunc_call_test_fail3(struct prog_test_fail3 *p);"),
    KfuncSpec("testmod", F.DESTRUCTIVE, "void bpf_kfunc_call_test_destructive(void);"),
    KfuncSpec("testmod", F(0), "u32 bpf_kfunc_call_test_static_unused_arg(u32 arg, u32 unused);"),
    KfuncSpec("testmod", F(0), "void bpf_kfunc_call_test_offset(struct prog_test_ref_kfunc *p);"),
    KfuncSpec("testmod", F.SLEEPABLE, "void bpf_kfunc_call_test_sleepable(void);"),
    KfuncSpec("testmod", F(0), "void bpf_testmod_test_mod_kfunc(int i);"),
    KfuncSpec("testmod_common", F(0), "void bpf_kfunc_common_test(void);"),
    KfuncSpec("testmod_common", F.TRUSTED_ARGS, "void bpf_kfunc_trusted_vma_test(struct vm_area_struct *ptr);"),
    KfuncSpec("testmod_common", F.TRUSTED_ARGS, "void bpf_kfunc_trusted_task_test(struct task_struct *ptr);"),
    KfuncSpec("testmod_common", F.TRUSTED_ARGS, "void bpf_kfunc_trusted_num_test(int *ptr);"),
    KfuncSpec("testmod_common", F.RCU, "void bpf_kfunc_rcu_task_test(struct task_struct *ptr);"),
    KfuncSpec("testmod_common", _ACQ_NULL, "struct bpf_testmod_ctx *bpf_testmod_ctx_create(int *err);"),
    KfuncSpec("testmod_common", F.RELEASE, "void bpf_testmod_ctx_release(struct bpf_testmod_ctx *ctx);"),
)  # fmt: skip


def kfunc_source() -> str:
    """Every prototype as one C text (what the kernel BTF builder reads)."""
    return "\n".join(k.proto for k in KFUNCS) + "\n"


KPTR_DTORS: dict[str, str] = {
    "task_struct": "bpf_task_release",
    "cgroup": "bpf_cgroup_release",
    "prog_test_ref_kfunc": "bpf_kfunc_call_test_release",
    "prog_test_member": "bpf_kfunc_call_memb_release",
}
"""Kernel structs a referenced kptr may hold, with the kfunc that releases one (the
kernel's ``register_btf_id_dtor_kfuncs`` registrations)."""
