/* CO-RE relocations of every kind, compiled with clang-19 and resolved by libbpf
 * against core_target.o (and against the running kernel's vmlinux) in the tests. */
#include <linux/types.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#define __pai __attribute__((preserve_access_index))

enum color { RED = 1, GREEN = 2, BLUE = 3, GONE = 9 };
enum wide_e { WIDE_A = 0x100000000ULL, WIDE_B = 5 };

struct inner { int x; int y; } __pai;

struct sample {
	int a;
	int b: 3;
	unsigned int c: 5;
	short arr[4];
	struct { int anon_x; int anon_y; };
	union { char u8; long u64; } u;
	enum color col;
	struct inner in;
	struct inner *inp;
	int missing;
	unsigned int grows;
	int shrinks_signed;
	void *ptr;
	char tail[];
} __pai;

struct sample___v2 { int a; long renamed; } __pai;
struct sample___flav { int a; int only_in_flavor; } __pai;
struct not_there { int z; } __pai;
typedef struct sample sample_t;
union u_only { int i; float f; } __pai;

struct task_struct { int pid; int tgid; struct task_struct *parent; char comm[16]; } __pai;
struct task_struct___old { long state; } __pai;
struct task_struct___new { unsigned int __state; } __pai;
enum pid_type { PIDTYPE_PID, PIDTYPE_TGID, PIDTYPE_PGID, PIDTYPE_SID, PIDTYPE_MAX, PIDTYPE_BOGUS };

int out[64];

SEC("kprobe/do_nanosleep")
int fields(struct sample *s)
{
	out[0] = s->a;                                  /* byte_off via LDX */
	out[1] = BPF_CORE_READ(s, in.y);                /* byte_off via ALU add */
	out[2] = bpf_core_field_size(s->arr[1]);
	out[3] = bpf_core_field_offset(s->arr[2]);
	out[4] = bpf_core_field_exists(s->missing);
	out[5] = bpf_core_field_exists(s->u.u64);
	out[6] = BPF_CORE_READ_BITFIELD_PROBED(s, b);   /* byte_off, byte_sz, lshift, rshift, signed */
	out[7] = BPF_CORE_READ_BITFIELD_PROBED(s, c);
	out[8] = bpf_core_field_offset(s->anon_y);
	out[9] = bpf_core_field_size(s->u);
	out[10] = __builtin_preserve_field_info(s->col, BPF_FIELD_SIGNED);
	out[11] = bpf_core_field_offset(s->in.x);
	out[12] = s->grows;                             /* size changes, unsigned: adjusted */
	out[13] = s->shrinks_signed;                    /* size changes, signed: poisoned */
	out[14] = s->missing;                           /* missing field: poisoned */
	out[15] = bpf_core_field_offset(s->tail[3]);    /* flexible array */
	out[16] = BPF_CORE_READ(s, inp, y);
	out[17] = (long)s->ptr;
	return 0;
}

SEC("kprobe/do_nanosleep")
int types(void *ctx)
{
	out[20] = bpf_core_type_exists(struct sample);
	out[21] = bpf_core_type_exists(struct not_there);
	out[22] = bpf_core_type_size(struct sample);
	out[23] = bpf_core_type_size(struct inner);
	out[24] = bpf_core_type_id_local(struct sample);
	out[25] = bpf_core_type_id_kernel(struct sample);
	out[26] = bpf_core_type_matches(struct inner);
	out[27] = bpf_core_type_matches(struct sample);
	out[28] = bpf_core_type_exists(sample_t);
	out[29] = bpf_core_type_size(union u_only);
	out[30] = bpf_core_type_id_kernel(struct not_there);
	return 0;
}

SEC("kprobe/do_nanosleep")
int enums(void *ctx)
{
	out[40] = bpf_core_enum_value_exists(enum color, GONE);
	out[41] = bpf_core_enum_value_exists(enum color, BLUE);
	out[42] = bpf_core_enum_value(enum color, GREEN);
	out[43] = bpf_core_enum_value(enum wide_e, WIDE_A) >> 32;
	out[44] = bpf_core_enum_value(enum color, GONE);
	out[45] = bpf_core_enum_value(enum pid_type, PIDTYPE_SID);
	out[46] = bpf_core_enum_value_exists(enum pid_type, PIDTYPE_BOGUS);
	return 0;
}

SEC("kprobe/do_nanosleep")
int flavors(struct sample *s)
{
	struct sample___v2 *v2 = (void *)s;
	struct sample___flav *fl = (void *)s;

	if (bpf_core_field_exists(v2->renamed))
		out[50] = BPF_CORE_READ(v2, renamed);
	out[51] = bpf_core_field_exists(fl->only_in_flavor);
	out[52] = BPF_CORE_READ(fl, a);
	return 0;
}

SEC("kprobe/do_nanosleep")
int kernel(struct task_struct *t)
{
	struct task_struct___old *old = (void *)t;
	struct task_struct___new *new = (void *)t;

	out[60] = BPF_CORE_READ(t, parent, tgid);
	out[61] = bpf_core_field_offset(t->comm[1]);
	if (bpf_core_field_exists(new->__state))
		out[62] = BPF_CORE_READ(new, __state);
	else
		out[62] = BPF_CORE_READ(old, state);
	out[63] = bpf_core_type_size(struct task_struct);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
