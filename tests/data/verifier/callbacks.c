#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 4); __type(key, __u32); __type(value, __u64); } arr SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 4); __type(key, __u32); __type(value, __u64); } hmap SEC(".maps");

struct ctx { __u64 sum; __u32 idx; };

static int sum_cb(__u32 i, struct ctx *c) { c->sum += i; return 0; }
static long elem_cb(void *map, __u32 *key, __u64 *val, struct ctx *c) { c->sum += *val + *key; return 0; }
static long elem_write_key(void *map, __u32 *key, __u64 *val, struct ctx *c) { *key = 1; return 0; }
static int bad_idx_cb(__u32 i, struct ctx *c) { int buf[4] = {}; c->sum += buf[c->idx & 7]; c->idx++; return 0; }
static int ret2_cb(__u32 i, void *c) { return 2; }

SEC("tc") int loop_sum(struct __sk_buff *skb) { struct ctx c = {}; bpf_loop(10, sum_cb, &c, 0); return c.sum; }
SEC("tc") int loop_ret2(struct __sk_buff *skb) { bpf_loop(10, ret2_cb, 0, 0); return 0; }
SEC("tc") int array_each(struct __sk_buff *skb) { struct ctx c = {}; bpf_for_each_map_elem(&arr, elem_cb, &c, 0); return c.sum; }
SEC("tc") int hash_each(struct __sk_buff *skb) { struct ctx c = {}; bpf_for_each_map_elem(&hmap, elem_cb, &c, 0); return c.sum; }
SEC("tc") int write_key(struct __sk_buff *skb) { struct ctx c = {}; bpf_for_each_map_elem(&hmap, elem_write_key, &c, 0); return 0; }
SEC("tc") int loop_oob(struct __sk_buff *skb) { struct ctx c = {}; bpf_loop(10, bad_idx_cb, &c, 0); return c.sum; }
SEC("tc") int loop_var(struct __sk_buff *skb) { struct ctx c = {}; bpf_loop(skb->len, sum_cb, &c, 0); return c.sum; }
char _license[] SEC("license") = "GPL";
