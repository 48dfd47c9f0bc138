// SPDX-License-Identifier: GPL-2.0
/* bpf-to-bpf calls: static subprograms and a global function, linked from .text.
 *
 * port_pair() (static, called with packet pointers) finds a frame's two ports;
 * well_known() (a global function: the verifier checks it once, on its own, from its BTF
 * prototype) says whether a port is below 1024.  The frame passes when either port is
 * well known, or when it has no ports at all; two high ports are dropped.  The calls go
 * two levels deep: classify -> port_pair, classify -> either_well_known -> well_known.
 *
 * Expected: TCP to 443 or from 22 -> XDP_PASS; UDP 40000 -> 50000 -> XDP_DROP;
 * ICMP (no ports) -> XDP_PASS.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

__noinline int well_known(__u32 port)
{
	return port != 0 && port < 1024;
}

static __noinline int either_well_known(__u32 sport, __u32 dport)
{
	return well_known(sport) || well_known(dport);
}

/* Both ports of an IPv4 TCP/UDP frame in *ports (host order); 0 when it has none. */
static __noinline int port_pair(void *data, void *data_end, __u32 *ports)
{
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	struct udphdr *l4 = (void *)(ip + 1);

	if ((void *)(l4 + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP) || ip->ihl != 5)
		return 0;
	if (ip->protocol != IPPROTO_TCP && ip->protocol != IPPROTO_UDP)
		return 0;
	ports[0] = bpf_ntohs(l4->source);
	ports[1] = bpf_ntohs(l4->dest);
	return 1;
}

SEC("xdp")
int classify(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 ports[2] = {};

	if (!port_pair(data, data_end, ports))
		return XDP_PASS;
	return either_well_known(ports[0], ports[1]) ? XDP_PASS : XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
