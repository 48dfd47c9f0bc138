"""The sockets the ``tcp``, ``udp`` and ``unix`` iterators hand out, and the socket
kinds their programs convert to (``bpf_skc_to_*``): the IPv6 TCP and UDP sockets,
TCP's time-wait and request sockets, Unix sockets and their bound addresses.

Each keeps the members the kernel's iterator programs read (addresses, ports, queue
counters, timers, the bound path); the iterators' context structs are here too.
"""

DECLS = r"""
struct ipv6_pinfo {
    struct in6_addr saddr;
    struct in6_addr final_flowlabel_daddr;
    __be32 flow_label;
    u32 dst_cookie;
    __u16 recverr: 1;
    __u16 sndflow: 1;
    __u16 repflow: 1;
    __u16 pmtudisc: 3;
    __u16 padding: 1;
    __u16 srcprefs: 3;
    __u8 min_hopcount;
    __u8 tclass;
    __be32 rcv_flowinfo;
    __u32 dst_cookie6;
};

struct tcp6_sock {
    struct tcp_sock tcp;
    struct ipv6_pinfo inet6;
};

struct udp_sock {
    struct inet_sock inet;
    unsigned long udp_flags;
    int pending;
    __u8 encap_type;
    __u16 len;
    __u16 gso_size;
    __u16 pcslen;
    __u16 pcrlen;
    struct sk_buff_head reader_queue;
    int forward_deficit;
    int forward_threshold;
    bool peeking_with_offset;
};

struct udp6_sock {
    struct udp_sock udp;
    struct ipv6_pinfo inet6;
};

struct inet_timewait_sock {
    struct sock_common __tw_common;
    __u32 tw_mark;
    unsigned char tw_substate;
    unsigned char tw_rcv_wscale;
    __be16 tw_sport;
    u32 tw_txhash;
    u32 tw_priority;
    u32 tw_entry_stamp;
    struct timer_list tw_timer;
};

struct tcp_timewait_sock {
    struct inet_timewait_sock tw_sk;
    u32 tw_rcv_wnd;
    u32 tw_ts_offset;
    u32 tw_ts_recent;
    u32 tw_last_oow_ack_time;
    int tw_ts_recent_stamp;
    u32 tw_tx_delay;
};

struct inet_request_sock {
    struct request_sock req;
    u16 snd_wscale: 4;
    u16 rcv_wscale: 4;
    u16 tstamp_ok: 1;
    u16 sack_ok: 1;
    u16 wscale_ok: 1;
    u16 ecn_ok: 1;
    u16 acked: 1;
    u16 no_srccheck: 1;
    u16 smc_ok: 1;
    u32 ir_mark;
};

struct tcp_request_sock {
    struct inet_request_sock req;
    u64 snt_synack;
    bool tfo_listener;
    bool is_mptcp;
    u32 txhash;
    u32 rcv_isn;
    u32 snt_isn;
    u32 ts_off;
    u32 rcv_nxt;
};

struct unix_address {
    refcount_t refcnt;
    int len;
    struct sockaddr_un name[0];
};

struct unix_sock {
    struct sock sk;
    struct unix_address *addr;
    struct path path;
    struct mutex iolock;
    struct mutex bindlock;
    struct sock *peer;
    struct sock *listener;
    spinlock_t lock;
    int inq_len;
    bool recvmsg_inq;
    struct sk_buff *oob_skb;
};

struct socket_alloc {
    struct socket socket;
    struct inode vfs_inode;
};

struct bpf_iter__udp {
    union {
        struct bpf_iter_meta *meta;
    };
    union {
        struct udp_sock *udp_sk;
    };
    uid_t uid __aligned(8);
    int bucket __aligned(8);
};

struct bpf_iter__unix {
    union {
        struct bpf_iter_meta *meta;
    };
    union {
        struct unix_sock *unix_sk;
    };
    uid_t uid __aligned(8);
};
"""
