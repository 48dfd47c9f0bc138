// SPDX-License-Identifier: GPL-2.0
/* Global data: a port filter configured through .rodata, with counters in .data/.bss.
 *
 * The loader turns each data section into an array map of one element.  `.rodata` is
 * frozen (and read-only for programs) before the program is verified, so the verifier
 * reads `blocked_port` and `log_drops` as constants: with log_drops = false the
 * bpf_printk branch is dead, never verified, and removed from the loaded program; with
 * blocked_port = 0 the whole port comparison goes too.
 *
 * Set before load: rodata blocked_port (a TCP/UDP destination port to drop, 0 = none),
 * rodata log_drops, data sample_every (count every Nth frame in `sampled`).
 * Read after runs: bss frames_seen/passed/dropped/sampled.
 *
 * Expected with blocked_port = 23: telnet frames are XDP_DROP, the rest XDP_PASS, and
 * the counters add up to the frames run.
 */
#include <stdbool.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

const volatile __u16 blocked_port = 0;
const volatile bool log_drops = false;

__u32 sample_every = 1;	/* .data: initialised to non-zero */

__u64 frames_seen;		/* .bss: zero-initialised */
__u64 passed;
__u64 dropped;
__u64 sampled;

/* The destination port of an IPv4 TCP or UDP frame, else 0. */
static __always_inline __u16 dest_port(void *data, void *data_end)
{
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	struct udphdr *l4;

	if ((void *)(ip + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return 0;
	if (ip->protocol != IPPROTO_TCP && ip->protocol != IPPROTO_UDP)
		return 0;
	l4 = (void *)ip + ip->ihl * 4;
	/* TCP and UDP both start with the source and destination ports */
	if ((void *)(l4 + 1) > data_end)
		return 0;
	return bpf_ntohs(l4->dest);
}

SEC("xdp")
int port_filter(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u64 seen = ++frames_seen;

	if (sample_every && seen % sample_every == 0)
		sampled++;
	if (blocked_port) {
		__u16 port = dest_port(data, data_end);

		if (port == blocked_port) {
			if (log_drops)
				bpf_printk("dropped a frame to port %d", port);
			dropped++;
			return XDP_DROP;
		}
	}
	passed++;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
