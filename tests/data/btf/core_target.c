/* The "kernel" that core.c is relocated against: the same names, other layouts. */
enum color { GREEN = 20, RED = 10, BLUE = 30 };
enum wide_e { WIDE_B = 7, WIDE_A = 0x300000000ULL };
enum pid_type { PIDTYPE_PID, PIDTYPE_TGID, PIDTYPE_PGID, PIDTYPE_SID, PIDTYPE_MAX };

struct inner { long pad; int y; int x; };

struct sample {
	long lead;
	unsigned int c: 7;
	int b: 6;
	short arr[8];
	union { struct { int anon_y; int anon_x; }; long anon_pad; };
	struct { long u64; char u8; } u;
	enum color col;
	struct inner in;
	struct inner *inp;
	unsigned long grows;
	short shrinks_signed;
	int a;
	void *ptr;
	char tail[];
};

union u_only { int i; float f; double d; };
typedef struct sample sample_t;

struct task_struct { int tgid; int pid; void *stack; struct task_struct *parent; char comm[16]; unsigned int __state; };

struct sample s_v;
union u_only u_v;
sample_t t_v;
struct task_struct task_v;
enum color c_v;
enum wide_e w_v;
enum pid_type p_v;
