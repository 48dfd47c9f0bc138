/* bpf-to-bpf calls: static and global subprograms in .text shared by two programs,
 * nested calls, a bounded loop, and a callback (bpf_loop). */
#include "pybpf_test.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} results SEC(".maps");

static __noinline __u64 square(__u64 x)
{
	return x * x;
}

static __noinline __u64 sum_squares(__u32 n)
{
	__u64 total = 0;

	for (__u32 i = 1; i <= n && i < 32; i++)
		total += square(i);
	return total;
}

__noinline int store(__u32 slot, __u64 value)
{
	__u64 *v = bpf_map_lookup_elem(&results, &slot);

	if (!v)
		return -1;
	*v = value;
	return 0;
}

SEC("xdp")
int xdp_calls(struct xdp_md *ctx)
{
	__u32 len = ctx->data_end - ctx->data;

	store(0, sum_squares(len & 15));
	return XDP_PASS;
}

SEC("tc")
int tc_calls(struct __sk_buff *skb)
{
	store(1, square(skb->len));
	return 0;
}

struct loop_ctx {
	__u64 acc;
};

static int add_one(__u32 index, struct loop_ctx *c)
{
	c->acc += index;
	return 0;
}

SEC("xdp")
int xdp_loop_cb(struct xdp_md *ctx)
{
	struct loop_ctx c = {};

	bpf_loop(10, add_one, &c, 0);
	return c.acc == 45 ? XDP_PASS : XDP_DROP;
}

char _license[] SEC("license") = "GPL";

__hidden __noinline int hidden_helper(int x)
{
	return x + 1;
}

SEC("socket")
int sock_hidden(struct __sk_buff *skb)
{
	return hidden_helper(skb->len);
}
