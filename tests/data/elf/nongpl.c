/* A proprietary-licensed program may not call GPL-only helpers. */
#include "pybpf_test.h"

SEC("socket")
int printk_user(struct __sk_buff *skb)
{
	bpf_trace_printk("len %d\n", 8, skb->len);
	return 0;
}

SEC("socket")
int plain(struct __sk_buff *skb)
{
	return skb->len;
}

char _license[] SEC("license") = "Proprietary";
