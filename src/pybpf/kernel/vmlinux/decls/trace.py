"""What BTF-typed tracing programs attach to: tracepoints, LSM hooks and kernel functions.

* ``btf_trace_<event>``: the typedef a ``tp_btf/<event>`` program names; a pointer to a
  prototype whose first parameter is the tracepoint's ``void *`` data, followed by the
  event's own arguments.
* ``bpf_lsm_<hook>``: the function an ``lsm/<hook>`` (or ``lsm_cgroup/<hook>``) program
  attaches to, with the hook's parameters and return type.
* Plain kernel functions for ``fentry``/``fexit``/``fmod_ret`` programs, including the
  ``bpf_fentry_test*`` and ``bpf_modify_return_test*`` functions ``BPF_PROG_TEST_RUN``
  calls for tracing programs, and the x86-64 syscall entry points.

The parameter lists are those of Linux 6.18 (the kernel pybpf reproduces); the structs
they name are declared here when no other subsystem has them, with a few of the
kernel's members (enough for programs to read what the selftests read).
"""

DECLS = r"""
struct request_sock {
    struct sock_common __req_common;
    struct request_sock *dl_next;
    u16 mss;
    u8 num_retrans;
    u8 syncookie;
    u32 ts_recent;
    struct sock *sk;
    u8 num_timeout;
    struct timer_list rsk_timer;
};

struct sockaddr {
    unsigned short sa_family;
    char sa_data[14];
};

struct linux_binprm {
    struct vm_area_struct *vma;
    unsigned long vma_pages;
    struct mm_struct *mm;
    unsigned long p;
    unsigned int have_execfd;
    struct file *executable;
    struct file *interpreter;
    struct file *file;
    struct cred *cred;
    int unsafe;
    unsigned int per_clear;
    int argc;
    int envc;
    const char *filename;
    const char *interp;
    const char *fdpath;
};

struct bpf_token {
    atomic64_t refcnt;
    struct user_namespace *userns;
    u64 allowed_cmds;
    u64 allowed_maps;
    u64 allowed_progs;
    u64 allowed_attachs;
};

struct audit_krule {
    u32 pflags;
    u32 flags;
    u32 listnr;
    u32 action;
    u32 mask[64];
    u32 buflen;
    u32 field_count;
    char *filterkey;
};

struct proto_accept_arg {
    int flags;
    int err;
    int is_empty;
    bool kern;
};

struct bpf_local_storage_data {
    struct bpf_local_storage_map *smap;
    u8 data[] __aligned(8);
};

struct bpf_local_storage {
    struct bpf_local_storage_data *cache[16];
    struct bpf_local_storage_map *smap;
    struct hlist_head list;
    void *owner;
    struct callback_head rcu;
    spinlock_t lock;
};

struct sockaddr_ll {
    unsigned short sll_family;
    __be16 sll_protocol;
    int sll_ifindex;
    unsigned short sll_hatype;
    unsigned char sll_pkttype;
    unsigned char sll_halen;
    unsigned char sll_addr[8];
};

struct sockaddr_un {
    unsigned short sun_family;
    char sun_path[108];
};

struct bpf_fentry_test_t {
    struct bpf_fentry_test_t *a;
};

typedef void *fl_owner_t;

typedef struct {
    union {
        void *kernel;
        void __user *user;
    };
    bool is_kernel : 1;
} sockptr_t;

typedef sockptr_t bpfptr_t;

union bpf_attr {
    struct {
        __u32 map_type;
        __u32 key_size;
        __u32 value_size;
        __u32 max_entries;
        __u32 map_flags;
        __u32 inner_map_fd;
        __u32 numa_node;
        char map_name[16];
    };
    struct {
        __u32 map_fd;
        __u64 key;
        union {
            __u64 value;
            __u64 next_key;
        };
        __u64 flags;
    };
    struct {
        __u32 prog_type;
        __u32 insn_cnt;
        __u64 insns;
        __u64 license;
        __u32 log_level;
        __u32 log_size;
        __u64 log_buf;
        __u32 kern_version;
        __u32 prog_flags;
        char prog_name[16];
    };
} __aligned(8);

enum bpf_cmd {
    BPF_MAP_CREATE = 0,
    BPF_MAP_LOOKUP_ELEM = 1,
    BPF_MAP_UPDATE_ELEM = 2,
    BPF_MAP_DELETE_ELEM = 3,
    BPF_MAP_GET_NEXT_KEY = 4,
    BPF_PROG_LOAD = 5,
    BPF_OBJ_PIN = 6,
    BPF_OBJ_GET = 7,
    BPF_PROG_ATTACH = 8,
    BPF_PROG_DETACH = 9,
    BPF_PROG_TEST_RUN = 10,
    BPF_PROG_GET_NEXT_ID = 11,
    BPF_MAP_GET_NEXT_ID = 12,
    BPF_PROG_GET_FD_BY_ID = 13,
    BPF_MAP_GET_FD_BY_ID = 14,
    BPF_OBJ_GET_INFO_BY_FD = 15,
    BPF_PROG_QUERY = 16,
    BPF_RAW_TRACEPOINT_OPEN = 17,
    BPF_BTF_LOAD = 18,
    BPF_BTF_GET_FD_BY_ID = 19,
    BPF_TASK_FD_QUERY = 20,
    BPF_MAP_LOOKUP_AND_DELETE_ELEM = 21,
    BPF_MAP_FREEZE = 22,
    BPF_BTF_GET_NEXT_ID = 23,
    BPF_MAP_LOOKUP_BATCH = 24,
    BPF_MAP_LOOKUP_AND_DELETE_BATCH = 25,
    BPF_MAP_UPDATE_BATCH = 26,
    BPF_MAP_DELETE_BATCH = 27,
    BPF_LINK_CREATE = 28,
    BPF_LINK_UPDATE = 29,
    BPF_LINK_GET_FD_BY_ID = 30,
    BPF_LINK_GET_NEXT_ID = 31,
    BPF_ENABLE_STATS = 32,
    BPF_ITER_CREATE = 33,
    BPF_LINK_DETACH = 34,
    BPF_PROG_BIND_MAP = 35,
    BPF_TOKEN_CREATE = 36,
};

enum skb_drop_reason {
    SKB_NOT_DROPPED_YET = 0,
    SKB_CONSUMED = 1,
    SKB_DROP_REASON_NOT_SPECIFIED = 2,
    SKB_DROP_REASON_NO_SOCKET = 3,
    SKB_DROP_REASON_PKT_TOO_SMALL = 5,
    SKB_DROP_REASON_TCP_CSUM = 6,
};

enum kernel_read_file_id {
    READING_UNKNOWN = 0,
    READING_FIRMWARE = 1,
    READING_MODULE = 2,
    READING_KEXEC_IMAGE = 3,
    READING_KEXEC_INITRAMFS = 4,
    READING_POLICY = 5,
    READING_X509_CERTIFICATE = 6,
    READING_MAX_ID = 7,
};

/* tracepoints: btf_trace_<event> */
typedef void (*btf_trace_cgroup_mkdir)(void *, struct cgroup *, const char *);
typedef void (*btf_trace_inet_sock_set_state)(void *, const struct sock *, const int, const int);
typedef void (*btf_trace_kfree_skb)(void *, struct sk_buff *, void *, enum skb_drop_reason,
                                    struct sock *);
typedef void (*btf_trace_netif_receive_skb)(void *, struct sk_buff *);
typedef void (*btf_trace_sched_process_fork)(void *, struct task_struct *, struct task_struct *);
typedef void (*btf_trace_sched_process_exec)(void *, struct task_struct *, pid_t,
                                             struct linux_binprm *);
typedef void (*btf_trace_sched_process_exit)(void *, struct task_struct *, bool);
typedef void (*btf_trace_sched_switch)(void *, bool, struct task_struct *, struct task_struct *,
                                       unsigned int);
typedef void (*btf_trace_sys_enter)(void *, struct pt_regs *, long);
typedef void (*btf_trace_sys_exit)(void *, struct pt_regs *, long);
typedef void (*btf_trace_task_newtask)(void *, struct task_struct *, u64);
typedef void (*btf_trace_tcp_bad_csum)(void *, const struct sk_buff *);
typedef void (*btf_trace_tcp_destroy_sock)(void *, struct sock *);
typedef void (*btf_trace_tcp_probe)(void *, struct sock *, const struct sk_buff *);
typedef void (*btf_trace_tcp_retransmit_synack)(void *, const struct sock *,
                                                const struct request_sock *);
typedef void (*btf_trace_xdp_devmap_xmit)(void *, const struct net_device *,
                                          const struct net_device *, int, int, int);

/* LSM hooks: bpf_lsm_<hook> */
int bpf_lsm_audit_rule_known(struct audit_krule *krule);
int bpf_lsm_bpf(int cmd, union bpf_attr *attr, unsigned int size, bool kernel);
int bpf_lsm_bpf_map(struct bpf_map *map, fmode_t fmode);
int bpf_lsm_bpf_prog(struct bpf_prog *prog);
int bpf_lsm_bpf_token_capable(const struct bpf_token *token, int cap);
int bpf_lsm_bpf_token_cmd(const struct bpf_token *token, enum bpf_cmd cmd);
void bpf_lsm_bprm_committed_creds(const struct linux_binprm *bprm);
int bpf_lsm_bprm_creds_for_exec(struct linux_binprm *bprm);
int bpf_lsm_file_alloc_security(struct file *file);
void bpf_lsm_file_free_security(struct file *file);
int bpf_lsm_file_mprotect(struct vm_area_struct *vma, unsigned long reqprot, unsigned long prot);
int bpf_lsm_file_open(struct file *file);
int bpf_lsm_file_permission(struct file *file, int mask);
int bpf_lsm_getprocattr(struct task_struct *p, const char *name, char **value);
int bpf_lsm_inode_getattr(const struct path *path);
int bpf_lsm_inode_getxattr(struct dentry *dentry, const char *name);
int bpf_lsm_inode_rename(struct inode *old_dir, struct dentry *old_dentry,
                         struct inode *new_dir, struct dentry *new_dentry);
int bpf_lsm_inode_unlink(struct inode *dir, struct dentry *dentry);
int bpf_lsm_ismaclabel(const char *name);
int bpf_lsm_kernel_read_file(struct file *file, enum kernel_read_file_id id, bool contents);
int bpf_lsm_setprocattr(const char *name, void *value, size_t size);
int bpf_lsm_socket_bind(struct socket *sock, struct sockaddr *address, int addrlen);
int bpf_lsm_socket_post_create(struct socket *sock, int family, int type, int protocol, int kern);
int bpf_lsm_task_alloc(struct task_struct *task, u64 clone_flags);
void bpf_lsm_task_free(struct task_struct *task);
int bpf_lsm_userns_create(const struct cred *cred);
void bpf_lsm_inet_csk_clone(struct sock *newsk, const struct request_sock *req);
int bpf_lsm_sk_alloc_security(struct sock *sk, int family, gfp_t priority);
void bpf_lsm_sk_free_security(struct sock *sk);

/* kernel functions fentry/fexit/fmod_ret programs attach to */
int bpf_fentry_test1(int a);
int bpf_fentry_test2(int a, u64 b);
int bpf_fentry_test3(char a, int b, u64 c);
int bpf_fentry_test4(void *a, char b, int c, u64 d);
int bpf_fentry_test5(u64 a, void *b, short c, int d, u64 e);
int bpf_fentry_test6(u64 a, void *b, short c, int d, void *e, u64 f);
int bpf_fentry_test7(struct bpf_fentry_test_t *arg);
int bpf_fentry_test8(struct bpf_fentry_test_t *arg);
u32 bpf_fentry_test9(u32 *a);
int bpf_modify_return_test(int a, int *b);
int bpf_modify_return_test2(int a, int *b, short c, int d, void *e, char f, int g);
int bpf_modify_return_test_tp(int nonce);
long __x64_sys_getpgid(const struct pt_regs *regs);
long __x64_sys_nanosleep(const struct pt_regs *regs);
long __x64_sys_prctl(const struct pt_regs *regs);
long __x64_sys_prlimit64(const struct pt_regs *regs);
long __x64_sys_setdomainname(const struct pt_regs *regs);
void __set_task_comm(struct task_struct *tsk, const char *buf, bool exec);
int __sys_getsockname(int fd, struct sockaddr __user *usockaddr, int __user *usockaddr_len);
int bpf_check(struct bpf_prog **prog, union bpf_attr *attr, bpfptr_t uattr, __u32 uattr_size);
void bpf_rstat_flush(struct cgroup *cgrp, struct cgroup *parent, int cpu);
void bpf_sk_storage_free(struct sock *sk);
int cgroup_attach_task(struct cgroup *dst_cgrp, struct task_struct *leader, bool threadgroup);
char *d_path(const struct path *path, char *buf, int buflen);
struct file *dentry_open(const struct path *path, int flags, const struct cred *cred);
void bpf_local_storage_destroy(struct bpf_local_storage *local_storage);
__be16 eth_type_trans(struct sk_buff *skb, struct net_device *dev);
void exit_creds(struct task_struct *tsk);
int filp_close(struct file *filp, fl_owner_t id);
long htab_map_delete_elem(struct bpf_map *map, void *key);
void inet6_sock_destruct(struct sock *sk);
struct sock *inet_csk_accept(struct sock *sk, struct proto_accept_arg *arg);
int inet_csk_listen_start(struct sock *sk);
int inet_stream_connect(struct socket *sock, struct sockaddr *uaddr, int addr_len, int flags);
int security_inode_getattr(const struct path *path);
void skb_tx_error(struct sk_buff *skb);
int tcp_connect(struct sock *sk);
int unix_listen(struct socket *sock, int backlog);
int update_socket_protocol(int family, int type, int protocol);
int vfs_open(const struct path *path, struct file *file);
"""
