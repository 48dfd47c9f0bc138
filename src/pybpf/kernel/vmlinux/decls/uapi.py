"""The program-facing structures of ``include/uapi/linux/bpf.h`` and x86-64's ``pt_regs``.

Unlike the kernel-internal types, these layouts are ABI: programs read contexts at
fixed offsets (the verifier rewrites the accesses), so every offset here equals the
UAPI's, and the tests hold them against pybpf's context tables.  A ``__bpf_md_ptr``
is written as the one-member union the kernel's BTF shows.
"""

DECLS = r"""
struct bpf_flow_keys {
    __u16 nhoff;
    __u16 thoff;
    __u16 addr_proto;
    __u8 is_frag;
    __u8 is_first_frag;
    __u8 is_encap;
    __u8 ip_proto;
    __be16 n_proto;
    __be16 sport;
    __be16 dport;
    union {
        struct {
            __be32 ipv4_src;
            __be32 ipv4_dst;
        };
        struct {
            __u32 ipv6_src[4];
            __u32 ipv6_dst[4];
        };
    };
    __u32 flags;
    __be32 flow_label;
};

struct bpf_sock {
    __u32 bound_dev_if;
    __u32 family;
    __u32 type;
    __u32 protocol;
    __u32 mark;
    __u32 priority;
    __u32 src_ip4;
    __u32 src_ip6[4];
    __u32 src_port;
    __be16 dst_port;
    __u32 dst_ip4;
    __u32 dst_ip6[4];
    __u32 state;
    __s32 rx_queue_mapping;
};

struct __sk_buff {
    __u32 len;
    __u32 pkt_type;
    __u32 mark;
    __u32 queue_mapping;
    __u32 protocol;
    __u32 vlan_present;
    __u32 vlan_tci;
    __u32 vlan_proto;
    __u32 priority;
    __u32 ingress_ifindex;
    __u32 ifindex;
    __u32 tc_index;
    __u32 cb[5];
    __u32 hash;
    __u32 tc_classid;
    __u32 data;
    __u32 data_end;
    __u32 napi_id;
    __u32 family;
    __u32 remote_ip4;
    __u32 local_ip4;
    __u32 remote_ip6[4];
    __u32 local_ip6[4];
    __u32 remote_port;
    __u32 local_port;
    __u32 data_meta;
    union {
        struct bpf_flow_keys *flow_keys;
    };
    __u64 tstamp;
    __u32 wire_len;
    __u32 gso_segs;
    union {
        struct bpf_sock *sk;
    };
    __u32 gso_size;
    __u8 tstamp_type;
    __u64 hwtstamp;
};

struct xdp_md {
    __u32 data;
    __u32 data_end;
    __u32 data_meta;
    __u32 ingress_ifindex;
    __u32 rx_queue_index;
    __u32 egress_ifindex;
};

struct bpf_tcp_sock {
    __u32 snd_cwnd;
    __u32 srtt_us;
    __u32 rtt_min;
    __u32 snd_ssthresh;
    __u32 rcv_nxt;
    __u32 snd_nxt;
    __u32 snd_una;
    __u32 mss_cache;
    __u32 ecn_flags;
    __u32 rate_delivered;
    __u32 rate_interval_us;
    __u32 packets_out;
    __u32 retrans_out;
    __u32 total_retrans;
    __u32 segs_in;
    __u32 data_segs_in;
    __u32 segs_out;
    __u32 data_segs_out;
    __u32 lost_out;
    __u32 sacked_out;
    __u64 bytes_received;
    __u64 bytes_acked;
    __u32 dsack_dups;
    __u32 delivered;
    __u32 delivered_ce;
    __u32 icsk_retransmits;
};

struct bpf_xdp_sock {
    __u32 queue_id;
};

struct bpf_sock_addr {
    __u32 user_family;
    __u32 user_ip4;
    __u32 user_ip6[4];
    __u32 user_port;
    __u32 family;
    __u32 type;
    __u32 protocol;
    __u32 msg_src_ip4;
    __u32 msg_src_ip6[4];
    union {
        struct bpf_sock *sk;
    };
};

struct bpf_sock_ops {
    __u32 op;
    union {
        __u32 args[4];
        __u32 reply;
        __u32 replylong[4];
    };
    __u32 family;
    __u32 remote_ip4;
    __u32 local_ip4;
    __u32 remote_ip6[4];
    __u32 local_ip6[4];
    __u32 remote_port;
    __u32 local_port;
    __u32 is_fullsock;
    __u32 snd_cwnd;
    __u32 srtt_us;
    __u32 bpf_sock_ops_cb_flags;
    __u32 state;
    __u32 rtt_min;
    __u32 snd_ssthresh;
    __u32 rcv_nxt;
    __u32 snd_nxt;
    __u32 snd_una;
    __u32 mss_cache;
    __u32 ecn_flags;
    __u32 rate_delivered;
    __u32 rate_interval_us;
    __u32 packets_out;
    __u32 retrans_out;
    __u32 total_retrans;
    __u32 segs_in;
    __u32 data_segs_in;
    __u32 segs_out;
    __u32 data_segs_out;
    __u32 lost_out;
    __u32 sacked_out;
    __u32 sk_txhash;
    __u64 bytes_received;
    __u64 bytes_acked;
    union {
        struct bpf_sock *sk;
    };
    union {
        void *skb_data;
    };
    union {
        void *skb_data_end;
    };
    __u32 skb_len;
    __u32 skb_tcp_flags;
    __u64 skb_hwtstamp;
};

struct sk_msg_md {
    union {
        void *data;
    };
    union {
        void *data_end;
    };
    __u32 family;
    __u32 remote_ip4;
    __u32 local_ip4;
    __u32 remote_ip6[4];
    __u32 local_ip6[4];
    __u32 remote_port;
    __u32 local_port;
    __u32 size;
    union {
        struct bpf_sock *sk;
    };
};

struct sk_reuseport_md {
    union {
        void *data;
    };
    union {
        void *data_end;
    };
    __u32 len;
    __u32 eth_protocol;
    __u32 ip_protocol;
    __u32 bind_inany;
    __u32 hash;
    union {
        struct bpf_sock *sk;
    };
    union {
        struct bpf_sock *migrating_sk;
    };
};

struct bpf_sk_lookup {
    union {
        union {
            struct bpf_sock *sk;
        };
        __u64 cookie;
    };
    __u32 family;
    __u32 protocol;
    __u32 remote_ip4;
    __u32 remote_ip6[4];
    __be16 remote_port;
    __u32 local_ip4;
    __u32 local_ip6[4];
    __u32 local_port;
    __u32 ingress_ifindex;
};

struct bpf_sysctl {
    __u32 write;
    __u32 file_pos;
};

struct bpf_sockopt {
    union {
        struct bpf_sock *sk;
    };
    union {
        void *optval;
    };
    union {
        void *optval_end;
    };
    __s32 level;
    __s32 optname;
    __s32 optlen;
    __s32 retval;
};

struct bpf_cgroup_dev_ctx {
    __u32 access_type;
    __u32 major;
    __u32 minor;
};

struct pt_regs {
    unsigned long r15;
    unsigned long r14;
    unsigned long r13;
    unsigned long r12;
    unsigned long bp;
    unsigned long bx;
    unsigned long r11;
    unsigned long r10;
    unsigned long r9;
    unsigned long r8;
    unsigned long ax;
    unsigned long cx;
    unsigned long dx;
    unsigned long si;
    unsigned long di;
    unsigned long orig_ax;
    unsigned long ip;
    union {
        u16 cs;
        u64 csx;
    };
    unsigned long flags;
    unsigned long sp;
    union {
        u16 ss;
        u64 ssx;
    };
};

typedef struct pt_regs bpf_user_pt_regs_t;

struct bpf_perf_event_data {
    bpf_user_pt_regs_t regs;
    __u64 sample_period;
    __u64 addr;
};

struct bpf_raw_tracepoint_args {
    __u64 args[0];
};

struct bpf_spin_lock {
    __u32 val;
};

struct bpf_timer {
    __u64 __opaque[2];
} __aligned(8);

struct bpf_wq {
    __u64 __opaque[2];
} __aligned(8);

struct bpf_dynptr {
    __u64 __opaque[2];
} __aligned(8);

struct bpf_list_head {
    __u64 __opaque[2];
} __aligned(8);

struct bpf_list_node {
    __u64 __opaque[3];
} __aligned(8);

struct bpf_rb_root {
    __u64 __opaque[2];
} __aligned(8);

struct bpf_rb_node {
    __u64 __opaque[4];
} __aligned(8);

struct bpf_refcount {
    __u32 __opaque[1];
} __aligned(4);

struct bpf_iter_num {
    __u64 __opaque[1];
} __aligned(8);

struct bpf_iter_bits {
    __u64 __opaque[2];
} __aligned(8);

enum xdp_action {
    XDP_ABORTED = 0,
    XDP_DROP,
    XDP_PASS,
    XDP_TX,
    XDP_REDIRECT,
};

enum sk_action {
    SK_DROP = 0,
    SK_PASS,
};
"""
