// SPDX-License-Identifier: GPL-2.0
/* Bounded loops the verifier walks iteration by iteration and proves they end.
 *
 * popcount (a socket filter) counts the 1-bits of the first 8 bytes after the Ethernet
 * header (a socket filter's packet starts at the network header), two nested loops kept
 * as loops with `unroll(disable)`; a socket filter's return value is the number of bytes
 * to keep, here the count.
 * popcount_bpf_loop gives the same count through the bpf_loop() helper: the callback is
 * a .text subprogram named by a BPF_PSEUDO_FUNC load, which the loader relocates and
 * the verifier checks with the function information of .BTF.ext.
 * ip_checksum (XDP) adds up the ten 16-bit words of an IPv4 header, one bounds-checked
 * packet load per iteration, and drops the frame when the ones' complement sum is not
 * 0xffff (a corrupt header).
 *
 * Expected: popcount and popcount_bpf_loop give 11 for the IPv4 TCP frame (45 00 00 28 12 34 40 00), 6 for
 * the ARP frame (00 01 08 00 06 04 00 01); ip_checksum passes well-formed IPv4 frames
 * and anything not IPv4, and drops an IPv4 frame whose checksum field was damaged.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define NBYTES 8

SEC("socket")
int popcount(struct __sk_buff *skb)
{
	__u8 buf[NBYTES];
	int total = 0;

	if (bpf_skb_load_bytes(skb, 0, buf, sizeof(buf)) < 0)
		return 0;
#pragma clang loop unroll(disable)
	for (int i = 0; i < NBYTES; i++) {
		__u8 b = buf[i];

#pragma clang loop unroll(disable)
		for (int j = 0; j < 8; j++)
			total += (b >> j) & 1;
	}
	return total;
}

struct loop_ctx {
	__u8 buf[NBYTES];
	int total;
};

static long count_byte(__u64 index, void *data)
{
	struct loop_ctx *lc = data;

	if (index >= NBYTES)
		return 1; /* stop */
	for (int j = 0; j < 8; j++)
		lc->total += (lc->buf[index] >> j) & 1;
	return 0; /* next */
}

SEC("socket")
int popcount_bpf_loop(struct __sk_buff *skb)
{
	struct loop_ctx lc = {};

	if (bpf_skb_load_bytes(skb, 0, lc.buf, sizeof(lc.buf)) < 0)
		return 0;
	bpf_loop(NBYTES, count_byte, &lc, 0);
	return lc.total;
}

SEC("xdp")
int ip_checksum(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	__u16 *word = (void *)ip;
	__u32 sum = 0;

	if ((void *)(ip + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	if (ip->ihl != 5)
		return XDP_PASS;
#pragma clang loop unroll(disable)
	for (int i = 0; i < 10; i++) {
		if ((void *)(word + i + 1) > data_end)
			return XDP_ABORTED;
		sum += word[i];
	}
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return sum == 0xffff ? XDP_PASS : XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
