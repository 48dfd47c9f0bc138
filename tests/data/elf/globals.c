#include "pybpf_test.h"

const volatile int debug_mode = 0;
const volatile __u32 multiplier = 3;
int counter = 0;
__u64 last_len;
static int hidden_total;
char name[8] = "pybpf";

SEC("xdp")
int xdp_globals(struct xdp_md *ctx)
{
	__u32 len = ctx->data_end - ctx->data;

	if (debug_mode)
		bpf_trace_printk("len %d\n", 8, len);
	counter += 1;
	hidden_total += len;
	last_len = len * multiplier;
	return name[0] == 'p' ? XDP_PASS : XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
