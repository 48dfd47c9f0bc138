/* A cache eviction policy for pybpf's own struct_ops type, pybpf_cache_ops: evict the
 * entry with the fewest hits, the least recently used among equals (pybpf's Python
 * "lfu" policy computes the same score).  on_hit keeps a private hit streak in the
 * entry's data[] to show that a program may write its own fields. */
#include <linux/types.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#define CORE __attribute__((preserve_access_index))

struct pybpf_cache_entry {
	__u64 key;
	__u64 last_access;
	__u32 hits;
	__u64 score;
	__u64 data[2];
} CORE;

struct pybpf_cache_ops {
	int (*init)(__u32 capacity);
	__u64 (*score)(struct pybpf_cache_entry *entry, __u64 now);
	void (*on_hit)(struct pybpf_cache_entry *entry, __u64 now);
	void (*on_insert)(struct pybpf_cache_entry *entry, __u64 now);
	char name[16];
};

char _license[] SEC("license") = "GPL";

SEC("struct_ops")
__u64 BPF_PROG(lfu_score, struct pybpf_cache_entry *e, __u64 now)
{
	__u64 s = ((__u64)e->hits << 40) | (e->last_access & ((1ULL << 40) - 1));

	e->score = s;
	return s;
}

SEC("struct_ops")
void BPF_PROG(lfu_on_hit, struct pybpf_cache_entry *e, __u64 now)
{
	e->data[0] += 1;
}

SEC(".struct_ops")
struct pybpf_cache_ops lfu = {
	.score = (void *)lfu_score,
	.on_hit = (void *)lfu_on_hit,
	.name = "bpf_lfu",
};
