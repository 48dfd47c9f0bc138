"""Network devices, packets and sockets up to ``struct inet_sock``: what XDP, tc,
tracing and socket programs reach through typed pointers.

The socket structs embed one another first (``inet_sock`` starts with ``sock``, which
starts with ``sock_common``) as the kernel's do, because programs cast between them
(``inet_csk(sk)``, ``tcp_sk(sk)``) and expect the same address.
"""

DECLS = r"""
typedef struct {
    struct net *net;
} possible_net_t;

typedef unsigned int sk_buff_data_t;
typedef __u64 __addrpair;
typedef __u32 __portpair;

struct net_device {
    char name[16];
    const struct net_device_ops *netdev_ops;
    unsigned long priv_flags;
    unsigned int flags;
    netdev_features_t features;
    int ifindex;
    int group;
    unsigned int mtu;
    unsigned int min_mtu;
    unsigned int max_mtu;
    unsigned short type;
    unsigned short hard_header_len;
    unsigned short needed_headroom;
    unsigned char addr_len;
    unsigned char perm_addr[32];
    unsigned char broadcast[32];
    const unsigned char *dev_addr;
    unsigned int num_rx_queues;
    unsigned int real_num_tx_queues;
    unsigned int tx_queue_len;
    unsigned int gso_max_size;
    struct bpf_prog *xdp_prog;
    possible_net_t nd_net;
};

struct xdp_mem_info {
    u32 type;
    u32 id;
};

struct xdp_rxq_info {
    struct net_device *dev;
    u32 queue_index;
    u32 reg_state;
    struct xdp_mem_info mem;
    u32 frag_size;
};

struct xdp_txq_info {
    struct net_device *dev;
};

struct xdp_buff {
    void *data;
    void *data_end;
    void *data_meta;
    void *data_hard_start;
    struct xdp_rxq_info *rxq;
    struct xdp_txq_info *txq;
    union {
        struct {
            u32 frame_sz;
            u32 flags;
        };
        u64 frame_sz_flags_init;
    };
};

struct sk_buff {
    union {
        struct {
            struct sk_buff *next;
            struct sk_buff *prev;
            union {
                struct net_device *dev;
                unsigned long dev_scratch;
            };
        };
        struct rb_node rbnode;
        struct list_head list;
        struct llist_node ll_node;
    };
    struct sock *sk;
    union {
        ktime_t tstamp;
        u64 skb_mstamp_ns;
    };
    char cb[48];
    unsigned long _skb_refdst;
    void (*destructor)(struct sk_buff *);
    unsigned int len;
    unsigned int data_len;
    __u16 mac_len;
    __u16 hdr_len;
    __u16 queue_mapping;
    __u8 cloned: 1;
    __u8 nohdr: 1;
    __u8 fclone: 2;
    __u8 peeked: 1;
    __u8 head_frag: 1;
    __u8 pfmemalloc: 1;
    __u8 pp_recycle: 1;
    __u8 active_extensions;
    __u8 pkt_type: 3;
    __u8 ignore_df: 1;
    __u8 dst_pending_confirm: 1;
    __u8 ip_summed: 2;
    __u8 ooo_okay: 1;
    __u8 tstamp_type: 2;
    __u8 tc_at_ingress: 1;
    __u8 tc_skip_classify: 1;
    __u8 remcsum_offload: 1;
    __u8 csum_complete_sw: 1;
    __u8 csum_level: 2;
    __u8 inner_protocol_type: 1;
    __u8 l4_hash: 1;
    __u8 sw_hash: 1;
    __u8 no_fcs: 1;
    __u8 encapsulation: 1;
    __u8 encap_hdr_csum: 1;
    __u8 csum_valid: 1;
    __u8 redirected: 1;
    __u8 from_ingress: 1;
    __u16 tc_index;
    union {
        __wsum csum;
        struct {
            __u16 csum_start;
            __u16 csum_offset;
        };
    };
    __u32 priority;
    int skb_iif;
    __u32 hash;
    union {
        u32 vlan_all;
        struct {
            __be16 vlan_proto;
            __u16 vlan_tci;
        };
    };
    union {
        unsigned int napi_id;
        unsigned int sender_cpu;
    };
    union {
        __u32 mark;
        __u32 reserved_tailroom;
    };
    __be16 inner_protocol;
    __u16 inner_transport_header;
    __u16 inner_network_header;
    __u16 inner_mac_header;
    __be16 protocol;
    __u16 transport_header;
    __u16 network_header;
    __u16 mac_header;
    sk_buff_data_t tail;
    sk_buff_data_t end;
    unsigned char *head;
    unsigned char *data;
    unsigned int truesize;
    refcount_t users;
};

struct sk_buff_head {
    struct sk_buff *next;
    struct sk_buff *prev;
    __u32 qlen;
    spinlock_t lock;
};

struct bpf_nf_ctx {
    const struct nf_hook_state *state;
    struct sk_buff *skb;
};

struct sock_common {
    union {
        __addrpair skc_addrpair;
        struct {
            __be32 skc_daddr;
            __be32 skc_rcv_saddr;
        };
    };
    union {
        unsigned int skc_hash;
        __u16 skc_u16hashes[2];
    };
    union {
        __portpair skc_portpair;
        struct {
            __be16 skc_dport;
            __u16 skc_num;
        };
    };
    unsigned short skc_family;
    volatile unsigned char skc_state;
    unsigned char skc_reuse: 4;
    unsigned char skc_reuseport: 1;
    unsigned char skc_ipv6only: 1;
    unsigned char skc_net_refcnt: 1;
    int skc_bound_dev_if;
    union {
        struct hlist_node skc_bind_node;
        struct hlist_node skc_portaddr_node;
    };
    struct proto *skc_prot;
    possible_net_t skc_net;
    struct in6_addr skc_v6_daddr;
    struct in6_addr skc_v6_rcv_saddr;
    atomic64_t skc_cookie;
    union {
        unsigned long skc_flags;
        struct sock *skc_listener;
    };
    union {
        struct hlist_node skc_node;
    };
    unsigned short skc_tx_queue_mapping;
    unsigned short skc_rx_queue_mapping;
    union {
        int skc_incoming_cpu;
        u32 skc_rcv_wnd;
        u32 skc_tw_rcv_nxt;
    };
    refcount_t skc_refcnt;
    union {
        u32 skc_rxhash;
        u32 skc_window_clamp;
        u32 skc_tw_snd_nxt;
    };
};

enum sk_pacing {
    SK_PACING_NONE = 0,
    SK_PACING_NEEDED = 1,
    SK_PACING_FQ = 2,
};

struct timer_list {
    struct hlist_node entry;
    unsigned long expires;
    void (*function)(struct timer_list *);
    u32 flags;
};

struct sock {
    struct sock_common __sk_common;
    atomic_t sk_drops;
    __s32 sk_peek_off;
    struct sk_buff_head sk_error_queue;
    struct sk_buff_head sk_receive_queue;
    struct {
        atomic_t rmem_alloc;
        int len;
        struct sk_buff *head;
        struct sk_buff *tail;
    } sk_backlog;
    int sk_rcvbuf;
    long sk_rcvtimeo;
    int sk_rcvlowat;
    int sk_err;
    struct socket *sk_socket;
    int sk_forward_alloc;
    u32 sk_tsflags;
    int sk_err_soft;
    int sk_wmem_queued;
    refcount_t sk_wmem_alloc;
    unsigned long sk_tsq_flags;
    struct sk_buff_head sk_write_queue;
    u32 sk_dst_pending_confirm;
    u32 sk_pacing_status;
    unsigned long sk_pacing_rate;
    unsigned long sk_max_pacing_rate;
    long sk_sndtimeo;
    u32 sk_priority;
    u32 sk_mark;
    kuid_t sk_uid;
    u16 sk_protocol;
    u16 sk_type;
    u16 sk_gso_type;
    u16 sk_gso_max_segs;
    unsigned int sk_gso_max_size;
    gfp_t sk_allocation;
    u32 sk_txhash;
    int sk_sndbuf;
    u8 sk_pacing_shift;
    bool sk_use_task_frag;
    u8 sk_gso_disabled: 1;
    u8 sk_kern_sock: 1;
    u8 sk_no_check_tx: 1;
    u8 sk_no_check_rx: 1;
    u8 sk_shutdown;
    unsigned long sk_lingertime;
    u32 sk_ack_backlog;
    u32 sk_max_ack_backlog;
    unsigned long sk_ino;
    ktime_t sk_stamp;
    u8 sk_clockid;
    u8 sk_bpf_cb_flags;
    void *sk_user_data;
    void *sk_security;
    void (*sk_state_change)(struct sock *);
    void (*sk_data_ready)(struct sock *);
    void (*sk_write_space)(struct sock *);
    void (*sk_error_report)(struct sock *);
    int (*sk_backlog_rcv)(struct sock *, struct sk_buff *);
    void (*sk_destruct)(struct sock *);
    struct bpf_local_storage *sk_bpf_storage;
    struct callback_head sk_rcu;
    struct timer_list sk_timer;
};

struct socket {
    short state;
    short type;
    unsigned long flags;
    struct file *file;
    struct sock *sk;
    const struct proto_ops *ops;
};

struct inet_sock {
    struct sock sk;
    struct ipv6_pinfo *pinet6;
    unsigned long inet_flags;
    __be32 inet_saddr;
    __s16 uc_ttl;
    __be16 inet_sport;
    struct ip_options_rcu *inet_opt;
    atomic_t inet_id;
    __u8 tos;
    __u8 min_ttl;
    __u8 mc_ttl;
    __u8 pmtudisc;
    __u8 rcv_tos;
    __u8 convert_csum;
    int uc_index;
    int mc_index;
    __be32 mc_addr;
    u32 local_port_range;
};
"""
