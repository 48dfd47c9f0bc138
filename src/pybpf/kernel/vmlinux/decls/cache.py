"""pybpf's own struct_ops type: a pluggable cache eviction policy.

A cache of fixed capacity asks the registered ``pybpf_cache_ops`` for a score of each
entry it holds when it must evict (the lowest score goes), and tells it of hits and
insertions.  Programs may write only the entry's ``score`` and ``data`` (their own
state); the stubs give each member's prototype with named parameters.
"""

DECLS = r"""
struct pybpf_cache_entry {
    u64 key;
    u64 inserted;
    u64 last_access;
    u32 hits;
    u32 size;
    u64 score;
    u64 data[2];
};

struct pybpf_cache_ops {
    int (*init)(u32 capacity);
    u64 (*score)(struct pybpf_cache_entry *entry, u64 now);
    void (*on_hit)(struct pybpf_cache_entry *entry, u64 now);
    void (*on_insert)(struct pybpf_cache_entry *entry, u64 now);
    char name[16];
};

struct bpf_struct_ops_pybpf_cache_ops {
    struct bpf_struct_ops_common_value common;
    struct pybpf_cache_ops data;
};

int pybpf_cache_ops__init(u32 capacity);
u64 pybpf_cache_ops__score(struct pybpf_cache_entry *entry, u64 now);
void pybpf_cache_ops__on_hit(struct pybpf_cache_entry *entry, u64 now);
void pybpf_cache_ops__on_insert(struct pybpf_cache_entry *entry, u64 now);
"""
