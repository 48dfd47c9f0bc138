/* CO-RE: field offsets, existence, sizes, type and enum queries, relocated against the
 * kernel's BTF (the ___local suffix is a "flavour": it matches the kernel's xdp_md). */
#include "pybpf_test.h"

#define core_field_exists(f) __builtin_preserve_field_info(f, 2)
#define core_field_size(f) __builtin_preserve_field_info(f, 1)
#define core_type_exists(t) __builtin_preserve_type_info(*(typeof(t) *)0, 0)
#define core_type_size(t) __builtin_preserve_type_info(*(typeof(t) *)0, 1)
#define core_enum_exists(e, v) __builtin_preserve_enum_value(*(typeof(e) *)v, 0)
#define core_enum_value(e, v) __builtin_preserve_enum_value(*(typeof(e) *)v, 1)

struct xdp_md___local {
	__u32 data_end;		/* deliberately out of the kernel's order */
	__u32 data;
	__u32 not_in_the_kernel;
} __pai;

struct ethhdr___local {
	unsigned char h_dest[6];
	unsigned char h_source[6];
	__be16 h_proto;
} __pai;

enum xdp_action___local {
	XDP_PASS___local = 2,
	XDP_NOT_A_VERDICT___local = 77,
};

struct pybpf_no_such_type {
	int x;
} __pai;

__u32 sizes[4];
__u64 values[4];

SEC("xdp")
int xdp_core(struct xdp_md *raw)
{
	struct xdp_md___local *ctx = (void *)raw;
	__u32 len = ctx->data_end - ctx->data;

	sizes[0] = core_field_size(ctx->data);
	sizes[1] = core_type_size(struct ethhdr___local);
	sizes[2] = core_type_exists(struct pybpf_no_such_type);
	sizes[3] = core_field_exists(ctx->not_in_the_kernel);
	values[0] = len;
	values[1] = core_enum_value(enum xdp_action___local, XDP_PASS___local);
	values[2] = core_enum_exists(enum xdp_action___local, XDP_NOT_A_VERDICT___local);
	if (core_field_exists(ctx->not_in_the_kernel))
		values[3] = ctx->not_in_the_kernel; /* poisoned, and never reached */
	return core_enum_value(enum xdp_action___local, XDP_PASS___local);
}

char _license[] SEC("license") = "GPL";
