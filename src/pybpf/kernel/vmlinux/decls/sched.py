"""Tasks, credentials, address spaces and cgroups: what tracing and LSM programs walk."""

DECLS = r"""
struct thread_info {
    unsigned long flags;
    unsigned long syscall_work;
    u32 status;
    u32 cpu;
};

struct cred {
    atomic_long_t usage;
    kuid_t uid;
    kgid_t gid;
    kuid_t suid;
    kgid_t sgid;
    kuid_t euid;
    kgid_t egid;
    kuid_t fsuid;
    kgid_t fsgid;
    unsigned int securebits;
    struct user_namespace *user_ns;
    struct callback_head rcu;
};

struct kernfs_node {
    atomic_t count;
    atomic_t active;
    union {
        struct kernfs_node *parent;
        struct kernfs_node *__parent;
    };
    const char *name;
    struct rb_node rb;
    const void *ns;
    unsigned int hash;
    unsigned short flags;
    umode_t mode;
    u64 id;
    void *priv;
};

struct cgroup_subsys_state {
    struct cgroup *cgroup;
    struct cgroup_subsys *ss;
    struct list_head sibling;
    struct list_head children;
    int id;
    unsigned int flags;
    u64 serial_nr;
    atomic_t online_cnt;
    struct cgroup_subsys_state *parent;
    int nr_descendants;
};

struct cgroup {
    struct cgroup_subsys_state self;
    unsigned long flags;
    int level;
    int max_depth;
    int nr_descendants;
    int nr_dying_descendants;
    int max_descendants;
    int nr_populated_csets;
    struct kernfs_node *kn;
    u16 subtree_control;
    u16 subtree_ss_mask;
    struct cgroup_subsys_state *subsys[12];
    struct cgroup_root *root;
    struct list_head cset_links;
    struct cgroup *dom_cgrp;
    struct bpf_local_storage *bpf_cgrp_storage;
    struct cgroup *ancestors[];
};

struct css_set {
    struct cgroup_subsys_state *subsys[12];
    refcount_t refcount;
    struct css_set *dom_cset;
    struct cgroup *dfl_cgrp;
    int nr_tasks;
    struct list_head tasks;
};

struct mm_struct {
    unsigned long mmap_base;
    unsigned long task_size;
    atomic_t mm_users;
    atomic_t mm_count;
    int map_count;
    unsigned long total_vm;
    unsigned long locked_vm;
    unsigned long data_vm;
    unsigned long exec_vm;
    unsigned long stack_vm;
    unsigned long start_code;
    unsigned long end_code;
    unsigned long start_data;
    unsigned long end_data;
    unsigned long start_brk;
    unsigned long brk;
    unsigned long start_stack;
    unsigned long arg_start;
    unsigned long arg_end;
    unsigned long env_start;
    unsigned long env_end;
    struct file *exe_file;
    struct task_struct *owner;
};

struct vm_area_struct {
    union {
        struct {
            unsigned long vm_start;
            unsigned long vm_end;
        };
    };
    struct mm_struct *vm_mm;
    pgprot_t vm_page_prot;
    union {
        const vm_flags_t vm_flags;
        vm_flags_t __vm_flags;
    };
    unsigned long vm_pgoff;
    struct file *vm_file;
    void *vm_private_data;
};

struct task_struct {
    struct thread_info thread_info;
    unsigned int __state;
    void *stack;
    refcount_t usage;
    unsigned int flags;
    unsigned int ptrace;
    int on_cpu;
    unsigned int wakee_flips;
    struct task_struct *last_wakee;
    int recent_used_cpu;
    int wake_cpu;
    int on_rq;
    int prio;
    int static_prio;
    int normal_prio;
    unsigned int rt_priority;
    unsigned int policy;
    int nr_cpus_allowed;
    const cpumask_t *cpus_ptr;
    cpumask_t *user_cpus_ptr;
    cpumask_t cpus_mask;
    struct list_head tasks;
    struct mm_struct *mm;
    struct mm_struct *active_mm;
    int exit_state;
    int exit_code;
    int exit_signal;
    int pdeath_signal;
    unsigned int personality;
    unsigned long atomic_flags;
    pid_t pid;
    pid_t tgid;
    struct task_struct *real_parent;
    struct task_struct *parent;
    struct list_head children;
    struct list_head sibling;
    struct task_struct *group_leader;
    struct pid *thread_pid;
    u64 utime;
    u64 stime;
    u64 gtime;
    unsigned long nvcsw;
    unsigned long nivcsw;
    u64 start_time;
    u64 start_boottime;
    unsigned long min_flt;
    unsigned long maj_flt;
    const struct cred *real_cred;
    const struct cred *cred;
    char comm[16];
    struct fs_struct *fs;
    struct files_struct *files;
    struct nsproxy *nsproxy;
    struct signal_struct *signal;
    struct callback_head *task_works;
    kuid_t loginuid;
    unsigned int sessionid;
    struct css_set *cgroups;
    struct list_head cg_list;
    struct callback_head rcu;
    refcount_t rcu_users;
    void *security;
    struct bpf_local_storage *bpf_storage;
    struct bpf_run_ctx *bpf_ctx;
};
"""
