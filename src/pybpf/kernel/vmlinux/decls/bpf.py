"""The BPF subsystem's own objects: maps (as the map-pointer rules and ``map_ptr``
programs read them), programs, links, iterator contexts and struct_ops values.

``struct bpf_map`` starts as the running kernel's (6.18) does, so that the raw-offset
map-pointer tests of the verifier selftests meet the same members at the same
offsets; each map family's struct embeds it first, as the kernel's do, and is what
``map->ops->map_btf_id`` names for that family (see :mod:`..mapstructs`).
"""

DECLS = r"""
struct bpf_map {
    u8 sha[32];
    u32 excl;
    const struct bpf_map_ops *ops;
    struct bpf_map *inner_map_meta;
    void *security;
    enum bpf_map_type map_type;
    u32 key_size;
    u32 value_size;
    u32 max_entries;
    u64 map_extra;
    u32 map_flags;
    u32 id;
    struct btf_record *record;
    int numa_node;
    u32 btf_key_type_id;
    u32 btf_value_type_id;
    u32 btf_vmlinux_value_type_id;
    struct btf *btf;
    struct obj_cgroup *objcg;
    char name[16];
    struct mutex freeze_mutex;
    atomic64_t refcnt;
    atomic64_t usercnt;
    struct callback_head rcu;
    atomic64_t writecnt;
    bool bypass_spec_v1;
    bool frozen;
    bool free_after_mult_rcu_gp;
    bool free_after_rcu_gp;
    atomic64_t sleepable_refcnt;
    s64 *elem_count;
    u64 cookie;
};

struct bpf_array {
    struct bpf_map map;
    u32 elem_size;
    u32 index_mask;
    struct bpf_array_aux *aux;
    union {
        char value[0];
        void *ptrs[0];
        void *pptrs[0];
    } __aligned(8);
};

struct bpf_htab {
    struct bpf_map map;
    struct bucket *buckets;
    void *elems;
    struct htab_elem **extra_elems;
    atomic_t count;
    bool use_percpu_counter;
    u32 n_buckets;
    u32 elem_size;
    u32 hashrnd;
};

struct bpf_stack_map {
    struct bpf_map map;
    void *elems;
    u32 n_buckets;
    struct stack_map_bucket *buckets[];
};

struct lpm_trie {
    struct bpf_map map;
    struct lpm_trie_node *root;
    size_t n_entries;
    size_t max_prefixlen;
    size_t data_size;
    spinlock_t lock;
};

struct bpf_dtab {
    struct bpf_map map;
    struct bpf_dtab_netdev **netdev_map;
    struct list_head list;
    struct hlist_head *dev_index_head;
    spinlock_t index_lock;
    unsigned int items;
    u32 n_buckets;
};

struct bpf_cpu_map {
    struct bpf_map map;
    struct bpf_cpu_map_entry **cpu_map;
};

struct xsk_map {
    struct bpf_map map;
    spinlock_t lock;
    atomic_t count;
    struct xdp_sock *xsk_map[];
};

struct bpf_stab {
    struct bpf_map map;
    struct sock **sks;
    spinlock_t lock;
};

struct bpf_shtab {
    struct bpf_map map;
    struct bpf_shtab_bucket *buckets;
    u32 buckets_num;
    u32 elem_size;
    atomic_t count;
};

struct bpf_cgroup_storage_map {
    struct bpf_map map;
    spinlock_t lock;
    struct rb_root root;
    struct list_head list;
};

struct reuseport_array {
    struct bpf_map map;
    struct sock *ptrs[];
};

struct bpf_queue_stack {
    struct bpf_map map;
    spinlock_t lock;
    u32 head;
    u32 tail;
    u32 size;
    char elements[] __aligned(8);
};

struct bpf_local_storage_map {
    struct bpf_map map;
    struct bpf_local_storage_map_bucket *buckets;
    u32 bucket_log;
    u16 elem_size;
    u16 cache_idx;
};

struct bpf_ringbuf_map {
    struct bpf_map map;
    struct bpf_ringbuf *rb;
};

struct bpf_bloom_filter {
    struct bpf_map map;
    u32 bitset_mask;
    u32 hash_seed;
    u32 nr_hash_funcs;
    unsigned long bitset[];
};

struct bpf_arena {
    struct bpf_map map;
    u64 user_vm_start;
    u64 user_vm_end;
    struct vm_struct *kern_vm;
};

struct bpf_struct_ops_map {
    struct bpf_map map;
    const struct bpf_struct_ops_desc *st_ops_desc;
    struct mutex lock;
    struct bpf_link **links;
    u32 links_cnt;
    struct btf *btf;
};

struct bpf_prog_aux {
    atomic64_t refcnt;
    u32 used_map_cnt;
    u32 used_btf_cnt;
    u32 max_ctx_offset;
    u32 max_pkt_offset;
    u32 max_tp_access;
    u32 stack_depth;
    u32 id;
    u32 func_cnt;
    u32 real_func_cnt;
    u32 attach_btf_id;
    struct bpf_prog *dst_prog;
    struct btf *attach_btf;
    const char *attach_func_name;
    bool verifier_zext;
    bool offload_requested;
    bool sleepable;
    bool tail_call_reachable;
    struct bpf_map **used_maps;
    struct bpf_prog *prog;
    struct btf *btf;
    char name[16];
};

struct bpf_prog {
    u16 pages;
    u16 jited: 1;
    u16 jit_requested: 1;
    u16 gpl_compatible: 1;
    u16 cb_access: 1;
    u16 dst_needed: 1;
    u16 blinding_requested: 1;
    u16 blinded: 1;
    u16 is_func: 1;
    u16 kprobe_override: 1;
    u16 has_callchain_buf: 1;
    u16 enforce_expected_attach_type: 1;
    u16 call_get_stack: 1;
    u16 call_get_func_ip: 1;
    u16 tstamp_type_access: 1;
    u16 sleepable: 1;
    enum bpf_prog_type type;
    enum bpf_attach_type expected_attach_type;
    u32 len;
    u32 jited_len;
    union {
        u8 digest[32];
        u8 tag[8];
    };
    struct bpf_prog_aux *aux;
};

struct bpf_link {
    atomic64_t refcnt;
    u32 id;
    u32 type;
    const struct bpf_link_ops *ops;
    struct bpf_prog *prog;
    u32 flags;
    enum bpf_attach_type attach_type;
    bool sleepable;
};

struct seq_file {
    char *buf;
    size_t size;
    size_t from;
    size_t count;
    size_t pad_until;
    loff_t index;
    loff_t read_pos;
    struct mutex lock;
    const struct seq_operations *op;
    int poll_event;
    const struct file *file;
    void *private;
};

struct bpf_iter_meta {
    union {
        struct seq_file *seq;
    };
    u64 session_id;
    u64 seq_num;
};

struct bpf_iter__bpf_map {
    union {
        struct bpf_iter_meta *meta;
    };
    union {
        struct bpf_map *map;
    };
};

struct bpf_iter__bpf_map_elem {
    union {
        struct bpf_iter_meta *meta;
    };
    union {
        struct bpf_map *map;
    };
    union {
        void *key;
    };
    union {
        void *value;
    };
};

struct bpf_iter__bpf_prog {
    union {
        struct bpf_iter_meta *meta;
    };
    union {
        struct bpf_prog *prog;
    };
};

struct bpf_iter__bpf_link {
    union {
        struct bpf_iter_meta *meta;
    };
    union {
        struct bpf_link *link;
    };
};

struct bpf_iter__task {
    union {
        struct bpf_iter_meta *meta;
    };
    union {
        struct task_struct *task;
    };
};

struct bpf_iter__task_file {
    union {
        struct bpf_iter_meta *meta;
    };
    union {
        struct task_struct *task;
    };
    u32 fd __aligned(8);
    union {
        struct file *file;
    };
};

struct bpf_iter__task_vma {
    union {
        struct bpf_iter_meta *meta;
    };
    union {
        struct task_struct *task;
    };
    union {
        struct vm_area_struct *vma;
    };
};

struct bpf_iter__cgroup {
    union {
        struct bpf_iter_meta *meta;
    };
    union {
        struct cgroup *cgroup;
    };
};

struct bpf_iter__bpf_sk_storage_map {
    union {
        struct bpf_iter_meta *meta;
    };
    union {
        struct bpf_map *map;
    };
    union {
        struct sock *sk;
    };
    union {
        void *value;
    };
};

struct bpf_iter__sockmap {
    union {
        struct bpf_iter_meta *meta;
    };
    union {
        struct bpf_map *map;
    };
    union {
        void *key;
    };
    union {
        struct sock *sk;
    };
};

enum bpf_struct_ops_state {
    BPF_STRUCT_OPS_STATE_INIT,
    BPF_STRUCT_OPS_STATE_INUSE,
    BPF_STRUCT_OPS_STATE_TOBEFREE,
    BPF_STRUCT_OPS_STATE_READY,
};

struct bpf_struct_ops_common_value {
    refcount_t refcnt;
    enum bpf_struct_ops_state state;
};
"""
