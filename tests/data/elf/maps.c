/* BTF-defined maps, several programs in one section, a program that does not load by
 * default, and the program types pybpf can run. */
#include "pybpf_test.h"

struct pkt_stats {
	__u64 packets;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, struct pkt_stats);
} stats_by_len SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} verdicts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u64));
} scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 128);
	__uint(map_flags, 0);
	__type(key, __u64);
	__type(value, __u32);
} recent SEC(".maps");

static __always_inline void count(__u32 len)
{
	struct pkt_stats *st, init = {};

	st = bpf_map_lookup_elem(&stats_by_len, &len);
	if (!st) {
		init.packets = 1;
		init.bytes = len;
		bpf_map_update_elem(&stats_by_len, &len, &init, 0);
		return;
	}
	__sync_fetch_and_add(&st->packets, 1);
	__sync_fetch_and_add(&st->bytes, len);
}

SEC("xdp")
int xdp_count(struct xdp_md *ctx)
{
	__u32 len = ctx->data_end - ctx->data;
	__u32 key = XDP_PASS;
	__u64 *v;

	count(len);
	v = bpf_map_lookup_elem(&verdicts, &key);
	if (v)
		*v += 1;
	return XDP_PASS;
}

SEC("xdp")
int xdp_drop_short(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 key = XDP_DROP;
	__u64 *v;

	if (data + sizeof(struct ethhdr) <= data_end)
		return XDP_PASS;
	v = bpf_map_lookup_elem(&verdicts, &key);
	if (v)
		*v += 1;
	return XDP_DROP;
}

SEC("?xdp")
int xdp_optional(struct xdp_md *ctx)
{
	return XDP_TX;
}

SEC("socket")
int sock_len(struct __sk_buff *skb)
{
	__u32 zero = 0;
	__u64 *v = bpf_map_lookup_elem(&scratch, &zero);

	if (v)
		*v = skb->len;
	return skb->len > 100 ? 0 : skb->len;
}

SEC("tc")
int tc_mark(struct __sk_buff *skb)
{
	__u64 key = skb->len;
	__u32 val = skb->protocol;

	bpf_map_update_elem(&recent, &key, &val, 0);
	skb->mark = 42;
	return 0;
}

SEC("cgroup_skb/ingress")
int cg_allow(struct __sk_buff *skb)
{
	return 1;
}

char _license[] SEC("license") = "Dual BSD/GPL";
