/* An element iterator for pybpf's iterator tests: a header on the first element, one
 * line per element and a total from the final call (key and value NULL).
 * Self-contained: no system or kernel headers. */

typedef unsigned int __u32;
typedef unsigned long long __u64;

#define SEC(name) __attribute__((section(name), used))
#define __pai __attribute__((preserve_access_index))

struct seq_file;

struct bpf_iter_meta {
	struct seq_file *seq;
	__u64 session_id;
	__u64 seq_num;
} __pai;

struct bpf_map;

struct bpf_iter__bpf_map_elem {
	struct bpf_iter_meta *meta;
	struct bpf_map *map;
	void *key;
	void *value;
} __pai;

static long (*bpf_seq_printf)(struct seq_file *m, const char *fmt, __u32 fmt_size,
			      const void *data, __u32 data_len) = (void *)126;

char _license[] SEC("license") = "GPL";

__u64 total = 0;

SEC("iter/bpf_map_elem")
int dump_counters(struct bpf_iter__bpf_map_elem *ctx)
{
	static const char head[] = "key value\n";
	static const char line[] = "%u %llu\n";
	static const char end[] = "total %llu over %llu elements\n";
	struct seq_file *seq = ctx->meta->seq;
	__u64 seq_num = ctx->meta->seq_num;
	__u32 *key = ctx->key;
	__u64 *val = ctx->value;
	__u64 args[2];

	if (seq_num == 0) {
		total = 0;
		bpf_seq_printf(seq, head, sizeof(head), 0, 0);
	}
	if (!key || !val) {
		args[0] = total;
		args[1] = seq_num;
		bpf_seq_printf(seq, end, sizeof(end), args, sizeof(args));
		return 0;
	}
	total += *val;
	args[0] = *key;
	args[1] = *val;
	bpf_seq_printf(seq, line, sizeof(line), args, sizeof(args));
	return 0;
}
