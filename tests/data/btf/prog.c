/* A small BPF object with what clang puts in .BTF and .BTF.ext: maps, globals,
 * functions (global and static), line info.  No system headers needed. */
#define SEC(name) __attribute__((section(name), used))
#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name

typedef unsigned int u32;
typedef unsigned long long u64;

struct xdp_md {
	u32 data;
	u32 data_end;
	u32 data_meta;
	u32 ingress_ifindex;
	u32 rx_queue_index;
	u32 egress_ifindex;
};

struct counter {
	u64 packets;
	u64 bytes;
	int flags: 4;
	unsigned int kind: 2;
};

struct {
	__uint(type, 1);
	__uint(max_entries, 64);
	__type(key, u32);
	__type(value, struct counter);
} counters SEC(".maps");

static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)1;

int hits = 0;
const volatile u32 limit = 10;
char buf[16];

static __attribute__((noinline)) int bump(struct counter *c, u32 len)
{
	c->packets++;
	c->bytes += len;
	return c->packets > limit;
}

__attribute__((noinline)) int global_helper(int x)
{
	return x * 2 + hits;
}

SEC("xdp")
int count_packets(struct xdp_md *ctx)
{
	u32 key = ctx->ingress_ifindex & 63;
	struct counter *c = bpf_map_lookup_elem(&counters, &key);

	if (!c)
		return 2;
	hits++;
	buf[key & 15] = 1;
	return bump(c, ctx->data_end - ctx->data) ? 1 : global_helper(2);
}

char LICENSE[] SEC("license") = "GPL";
