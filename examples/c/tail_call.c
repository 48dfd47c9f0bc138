// SPDX-License-Identifier: GPL-2.0
/* A tail-call dispatcher: one XDP entry point jumps to a handler per IP protocol.
 *
 * `handlers` is a program array filled by the loader from its `.values` initialiser:
 * slot 6 (TCP) holds handle_tcp, slot 17 (UDP) handle_udp.  dispatch() looks at the
 * protocol and tail-calls slot[protocol]; a tail call to an empty slot falls through, so
 * anything else (ICMP, ARP, IPv6) reaches dispatch's own `return XDP_PASS`.  Each path
 * counts itself in `hits` (.bss).
 *
 * Expected: TCP to port 23 (telnet) -> XDP_DROP, other TCP -> XDP_PASS, UDP -> XDP_PASS,
 * the rest -> XDP_PASS through the fallback; `hits` = {tcp, udp, fallback} frames.  After
 * user space deletes slot 17, UDP frames take the fallback too.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

enum { HIT_TCP, HIT_UDP, HIT_FALLBACK, NHITS };

__u64 hits[NHITS];

SEC("xdp")
int handle_tcp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct iphdr *ip = data + sizeof(struct ethhdr);
	struct tcphdr *tcp = (void *)(ip + 1);

	hits[HIT_TCP]++;
	if ((void *)(tcp + 1) > data_end)
		return XDP_ABORTED;
	return tcp->dest == bpf_htons(23) ? XDP_DROP : XDP_PASS;
}

SEC("xdp")
int handle_udp(struct xdp_md *ctx)
{
	hits[HIT_UDP]++;
	return XDP_PASS;
}

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 256);
	__uint(key_size, sizeof(__u32));
	__array(values, int (void *));
} handlers SEC(".maps") = {
	.values = {
		[IPPROTO_TCP] = (void *)&handle_tcp,
		[IPPROTO_UDP] = (void *)&handle_udp,
	},
};

SEC("xdp")
int dispatch(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);

	if ((void *)(ip + 1) <= data_end && eth->h_proto == bpf_htons(ETH_P_IP))
		bpf_tail_call(ctx, &handlers, ip->protocol);
	hits[HIT_FALLBACK]++;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
