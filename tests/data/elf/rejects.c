/* Programs the verifier refuses, and ones it refuses only for who they are. */
#include "pybpf_test.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} table SEC(".maps");

SEC("xdp")
int xdp_null_deref(struct xdp_md *ctx)
{
	__u32 key = 1;
	__u64 *v = bpf_map_lookup_elem(&table, &key);

	return *v ? XDP_PASS : XDP_DROP;
}

SEC("xdp")
int xdp_ok(struct xdp_md *ctx)
{
	return XDP_PASS;
}

SEC("socket")
int sock_oob(struct __sk_buff *skb)
{
	__u32 key = 0;
	__u64 *v = bpf_map_lookup_elem(&table, &key);

	if (!v)
		return 0;
	return v[skb->len];
}

SEC("pybpf_unknown_section")
int unknown_sec(void *ctx)
{
	return 0;
}

char _license[] SEC("license") = "GPL";
