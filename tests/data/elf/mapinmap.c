/* Map-in-map with an inner definition and .values, and a program array with .values
 * (a tail-call dispatcher). */
#include "pybpf_test.h"

struct inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
};

struct inner inner_a SEC(".maps");
struct inner inner_b SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 4);
	__type(key, __u32);
	__array(values, struct inner);
} outer SEC(".maps") = {
	.values = { [0] = &inner_a, [2] = &inner_b },
};

int xdp_tail_pass(struct xdp_md *ctx);
int xdp_tail_drop(struct xdp_md *ctx);

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 4);
	__uint(key_size, sizeof(__u32));
	__array(values, int (void *));
} jump_table SEC(".maps") = {
	.values = { [1] = (void *)&xdp_tail_pass, [2] = (void *)&xdp_tail_drop },
};

SEC("xdp")
int xdp_tail_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

SEC("xdp")
int xdp_tail_drop(struct xdp_md *ctx)
{
	return XDP_DROP;
}

SEC("xdp")
int xdp_dispatch(struct xdp_md *ctx)
{
	__u32 len = ctx->data_end - ctx->data;

	bpf_tail_call(ctx, &jump_table, len & 3);
	return XDP_ABORTED;
}

SEC("xdp")
int xdp_inner(struct xdp_md *ctx)
{
	__u32 key = 2, zero = 0;
	__u32 *val;
	void *in = bpf_map_lookup_elem(&outer, &key);

	if (!in)
		return XDP_DROP;
	val = bpf_map_lookup_elem(in, &zero);
	if (!val)
		return XDP_DROP;
	*val += 1;
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
