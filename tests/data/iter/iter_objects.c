/* Iterators over kernel objects for pybpf's tests: programs, links, tasks and the
 * slots of a sockmap, one line each and "end" from the final call.  Self-contained
 * (no system or kernel headers); members are found by CO-RE. */

typedef unsigned int __u32;
typedef unsigned short __u16;
typedef unsigned long long __u64;
typedef int pid_t;

#define SEC(name) __attribute__((section(name), used))
#define __pai __attribute__((preserve_access_index))

struct seq_file;

struct bpf_iter_meta {
	struct seq_file *seq;
	__u64 session_id;
	__u64 seq_num;
} __pai;

struct bpf_prog_aux {
	__u32 id;
	char name[16];
} __pai;

enum bpf_prog_type {
	BPF_PROG_TYPE_UNSPEC = 0,
};

struct bpf_prog {
	enum bpf_prog_type type;
	struct bpf_prog_aux *aux;
} __pai;

struct bpf_link {
	__u32 id;
	struct bpf_prog *prog;
} __pai;

struct task_struct {
	pid_t pid;
	pid_t tgid;
	char comm[16];
} __pai;

struct sock_common {
	__u16 skc_family;
} __pai;

struct sock {
	struct sock_common __sk_common;
} __pai;

struct bpf_map;

struct bpf_iter__bpf_prog {
	struct bpf_iter_meta *meta;
	struct bpf_prog *prog;
} __pai;

struct bpf_iter__bpf_link {
	struct bpf_iter_meta *meta;
	struct bpf_link *link;
} __pai;

struct bpf_iter__task {
	struct bpf_iter_meta *meta;
	struct task_struct *task;
} __pai;

struct bpf_iter__sockmap {
	struct bpf_iter_meta *meta;
	struct bpf_map *map;
	void *key;
	struct sock *sk;
} __pai;

static long (*bpf_seq_printf)(struct seq_file *m, const char *fmt, __u32 fmt_size,
			      const void *data, __u32 data_len) = (void *)126;

char _license[] SEC("license") = "GPL";

static const char end[] = "end\n";

SEC("iter/bpf_prog")
int dump_progs(struct bpf_iter__bpf_prog *ctx)
{
	static const char line[] = "prog %u %u %s\n";
	struct seq_file *seq = ctx->meta->seq;
	struct bpf_prog *prog = ctx->prog;
	__u64 args[3];

	if (!prog) {
		bpf_seq_printf(seq, end, sizeof(end), 0, 0);
		return 0;
	}
	args[0] = prog->aux->id;
	args[1] = prog->type;
	args[2] = (__u64)prog->aux->name;
	bpf_seq_printf(seq, line, sizeof(line), args, sizeof(args));
	return 0;
}

SEC("iter/bpf_link")
int dump_links(struct bpf_iter__bpf_link *ctx)
{
	static const char line[] = "link %u prog %u\n";
	struct seq_file *seq = ctx->meta->seq;
	struct bpf_link *link = ctx->link;
	__u64 args[2];

	if (!link) {
		bpf_seq_printf(seq, end, sizeof(end), 0, 0);
		return 0;
	}
	args[0] = link->id;
	args[1] = link->prog->aux->id;
	bpf_seq_printf(seq, line, sizeof(line), args, sizeof(args));
	return 0;
}

SEC("iter/task")
int dump_tasks(struct bpf_iter__task *ctx)
{
	static const char line[] = "%d %d %s\n";
	struct seq_file *seq = ctx->meta->seq;
	struct task_struct *task = ctx->task;
	__u64 args[3];

	if (!task) {
		bpf_seq_printf(seq, end, sizeof(end), 0, 0);
		return 0;
	}
	args[0] = task->pid;
	args[1] = task->tgid;
	args[2] = (__u64)task->comm;
	bpf_seq_printf(seq, line, sizeof(line), args, sizeof(args));
	return 0;
}

SEC("iter/sockmap")
int dump_sockmap(struct bpf_iter__sockmap *ctx)
{
	static const char line[] = "%u %u\n";
	struct seq_file *seq = ctx->meta->seq;
	__u32 *key = ctx->key;
	struct sock *sk = ctx->sk;
	__u64 args[2];

	if (!key) {
		bpf_seq_printf(seq, end, sizeof(end), 0, 0);
		return 0;
	}
	args[0] = *key;
	args[1] = sk ? sk->__sk_common.skc_family : 0;
	bpf_seq_printf(seq, line, sizeof(line), args, sizeof(args));
	return 0;
}
