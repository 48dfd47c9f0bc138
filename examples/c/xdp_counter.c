// SPDX-License-Identifier: GPL-2.0
/* XDP packet counter: how many frames of each IP protocol went by, in a hash map.
 *
 * Key: the IPv4 protocol number (1 ICMP, 6 TCP, 17 UDP...), or 256 for a frame that is
 * not IPv4.  Value: a 64-bit count.  The first frame of a protocol inserts its key with
 * BPF_NOEXIST; later ones add to the count in place with an atomic add.  Every frame
 * passes (XDP_PASS).
 *
 * Expected: 8 frames (3 TCP, 2 UDP, 1 ICMP, 1 ARP, 1 IPv6) leave the map holding
 * ICMP=1, TCP=3, UDP=2, not-IPv4=2.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define NOT_IPV4 256

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} proto_counts SEC(".maps");

SEC("xdp")
int count_protocols(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	__u32 key = NOT_IPV4;
	__u64 one = 1, *count;

	if ((void *)(eth + 1) > data_end)
		return XDP_PASS;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);

		if ((void *)(ip + 1) > data_end)
			return XDP_PASS;
		key = ip->protocol;
	}
	count = bpf_map_lookup_elem(&proto_counts, &key);
	if (count)
		__sync_fetch_and_add(count, 1);
	else
		bpf_map_update_elem(&proto_counts, &key, &one, BPF_NOEXIST);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
