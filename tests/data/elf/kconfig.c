/* __kconfig externs, custom data sections and a map pinned by name. */
#include "pybpf_test.h"

extern unsigned int LINUX_KERNEL_VERSION __kconfig;
extern int CONFIG_HZ __kconfig;
extern bool CONFIG_BPF_SYSCALL __kconfig;
extern int CONFIG_PYBPF_MISSING __kconfig __weak;

int seen_hz SEC(".data.custom") = 0;
const volatile __u32 limit SEC(".rodata.limits") = 7;
__u32 kver = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pinned_counts SEC(".maps");

SEC("xdp")
int xdp_kconfig(struct xdp_md *ctx)
{
	__u32 key = limit;
	__u64 one = 1, *v;

	kver = LINUX_KERNEL_VERSION;
	seen_hz = CONFIG_HZ + CONFIG_PYBPF_MISSING;
	v = bpf_map_lookup_elem(&pinned_counts, &key);
	if (v)
		*v += 1;
	else
		bpf_map_update_elem(&pinned_counts, &key, &one, 0);
	return CONFIG_BPF_SYSCALL ? XDP_PASS : XDP_DROP;
}

char _license[] SEC("license") = "GPL";
