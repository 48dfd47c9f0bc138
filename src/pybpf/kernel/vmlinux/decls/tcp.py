"""TCP sockets and congestion control: the ``tcp_sock`` fields congestion-control
programs read and write, the ``tcp_congestion_ops`` they implement, the samples the
stack hands them, and the enums their hooks take.

The ops' stub functions (``tcp_congestion_ops__<member>``) give each member's
prototype with named parameters, which struct_ops reads for argument names.
"""

DECLS = r"""
enum {
    TCP_ESTABLISHED = 1,
    TCP_SYN_SENT,
    TCP_SYN_RECV,
    TCP_FIN_WAIT1,
    TCP_FIN_WAIT2,
    TCP_TIME_WAIT,
    TCP_CLOSE,
    TCP_CLOSE_WAIT,
    TCP_LAST_ACK,
    TCP_LISTEN,
    TCP_CLOSING,
    TCP_NEW_SYN_RECV,
    TCP_BOUND_INACTIVE,
    TCP_MAX_STATES,
};

enum tcp_ca_state {
    TCP_CA_Open = 0,
    TCP_CA_Disorder = 1,
    TCP_CA_CWR = 2,
    TCP_CA_Recovery = 3,
    TCP_CA_Loss = 4,
};

enum tcp_ca_event {
    CA_EVENT_TX_START,
    CA_EVENT_CWND_RESTART,
    CA_EVENT_COMPLETE_CWR,
    CA_EVENT_LOSS,
    CA_EVENT_ECN_NO_CE,
    CA_EVENT_ECN_IS_CE,
};

enum tcp_ca_ack_event_flags {
    CA_ACK_SLOWPATH = 1,
    CA_ACK_WIN_UPDATE = 2,
    CA_ACK_ECE = 4,
};

struct minmax_sample {
    u32 t;
    u32 v;
};

struct minmax {
    struct minmax_sample s[3];
};

struct tcp_sack_block {
    u32 start_seq;
    u32 end_seq;
};

struct tcp_options_received {
    int ts_recent_stamp;
    u32 ts_recent;
    u32 rcv_tsval;
    u32 rcv_tsecr;
    u16 saw_tstamp: 1;
    u16 tstamp_ok: 1;
    u16 dsack: 1;
    u16 wscale_ok: 1;
    u16 sack_ok: 3;
    u16 smc_ok: 1;
    u16 snd_wscale: 4;
    u16 rcv_wscale: 4;
    u8 num_sacks;
    u16 user_mss;
    u16 mss_clamp;
};

struct tcp_rack {
    u64 mstamp;
    u32 rtt_us;
    u32 end_seq;
    u32 last_delivered;
    u8 reo_wnd_steps;
    u8 reo_wnd_persist: 5;
    u8 dsack_seen: 1;
    u8 advanced: 1;
};

struct ack_sample {
    u32 pkts_acked;
    s32 rtt_us;
    u32 in_flight;
};

struct rate_sample {
    u64 prior_mstamp;
    u32 prior_delivered;
    u32 prior_delivered_ce;
    s32 delivered;
    s32 delivered_ce;
    long interval_us;
    u32 snd_interval_us;
    u32 rcv_interval_us;
    long rtt_us;
    int losses;
    u32 acked_sacked;
    u32 prior_in_flight;
    u32 last_end_seq;
    bool is_app_limited;
    bool is_retrans;
    bool is_ack_delayed;
};

struct tcp_congestion_ops {
    u32 (*ssthresh)(struct sock *);
    void (*cong_avoid)(struct sock *, u32, u32);
    void (*set_state)(struct sock *, u8);
    void (*cwnd_event)(struct sock *, enum tcp_ca_event);
    void (*in_ack_event)(struct sock *, u32);
    void (*pkts_acked)(struct sock *, const struct ack_sample *);
    u32 (*min_tso_segs)(struct sock *);
    void (*cong_control)(struct sock *, u32, int, const struct rate_sample *);
    u32 (*undo_cwnd)(struct sock *);
    u32 (*sndbuf_expand)(struct sock *);
    size_t (*get_info)(struct sock *, u32, int *, union tcp_cc_info *);
    char name[16];
    struct module *owner;
    struct list_head list;
    u32 key;
    u32 flags;
    void (*init)(struct sock *);
    void (*release)(struct sock *);
};

struct bpf_struct_ops_tcp_congestion_ops {
    struct bpf_struct_ops_common_value common;
    struct tcp_congestion_ops data;
};

struct fastopen_queue {
    struct request_sock *rskq_rst_head;
    struct request_sock *rskq_rst_tail;
    spinlock_t lock;
    int qlen;
    int max_qlen;
    struct tcp_fastopen_context *ctx;
};

struct request_sock_queue {
    spinlock_t rskq_lock;
    u8 rskq_defer_accept;
    u8 synflood_warned;
    atomic_t qlen;
    atomic_t young;
    struct request_sock *rskq_accept_head;
    struct request_sock *rskq_accept_tail;
    struct fastopen_queue fastopenq;
};

struct inet_connection_sock {
    struct inet_sock icsk_inet;
    struct inet_bind_bucket *icsk_bind_hash;
    __u32 icsk_rto;
    __u32 icsk_rto_min;
    u32 icsk_rto_max;
    __u32 icsk_delack_max;
    __u32 icsk_pmtu_cookie;
    const struct tcp_congestion_ops *icsk_ca_ops;
    const struct inet_connection_sock_af_ops *icsk_af_ops;
    const struct tcp_ulp_ops *icsk_ulp_ops;
    void *icsk_ulp_data;
    unsigned int (*icsk_sync_mss)(struct sock *, u32);
    __u8 icsk_ca_state: 5;
    __u8 icsk_ca_initialized: 1;
    __u8 icsk_ca_setsockopt: 1;
    __u8 icsk_ca_dst_locked: 1;
    __u8 icsk_retransmits;
    __u8 icsk_pending;
    __u8 icsk_backoff;
    __u8 icsk_syn_retries;
    __u8 icsk_probes_out;
    __u16 icsk_ext_hdr_len;
    struct {
        __u8 pending;
        __u8 quick;
        __u8 pingpong;
        __u8 retry;
        __u32 ato: 8;
        __u32 lrcv_flowlabel: 20;
        __u32 dst_quick_ack: 1;
        __u32 unused: 3;
        __u32 lrcvtime;
        __u16 last_seg_size;
        __u16 rcv_mss;
    } icsk_ack;
    struct {
        int search_high;
        int search_low;
        u32 probe_size: 31;
        u32 enabled: 1;
        u32 probe_timestamp;
    } icsk_mtup;
    u32 icsk_probes_tstamp;
    u32 icsk_user_timeout;
    u64 icsk_ca_priv[13];
    struct request_sock_queue icsk_accept_queue;
    struct timer_list icsk_retransmit_timer;
    struct timer_list icsk_delack_timer;
};

struct tcp_sock {
    struct inet_connection_sock inet_conn;
    u32 max_window;
    u32 rcv_ssthresh;
    u32 reordering;
    u32 notsent_lowat;
    u16 gso_segs;
    struct sk_buff *retransmit_skb_hint;
    u32 tsoffset;
    u32 snd_wnd;
    u32 mss_cache;
    u32 snd_cwnd;
    u32 prr_out;
    u32 lost_out;
    u32 sacked_out;
    u16 tcp_header_len;
    u8 scaling_ratio;
    u8 repair: 1;
    u8 tcp_usec_ts: 1;
    u8 is_sack_reneg: 1;
    u8 is_cwnd_limited: 1;
    u8 recvmsg_inq: 1;
    u32 copied_seq;
    u32 snd_wl1;
    u32 tlp_high_seq;
    u32 rttvar_us;
    u32 retrans_out;
    u16 advmss;
    u16 urg_data;
    u32 lost;
    u32 snd_ssthresh;
    struct minmax rtt_min;
    struct rb_root out_of_order_queue;
    u32 segs_out;
    u32 data_segs_out;
    u64 bytes_sent;
    u32 snd_sml;
    u8 chrono_type;
    u32 chrono_start;
    u32 chrono_stat[3];
    u32 write_seq;
    u32 pushed_seq;
    u32 lsndtime;
    u32 mdev_us;
    u32 rtt_seq;
    u64 tcp_wstamp_ns;
    struct list_head tsorted_sent_queue;
    struct sk_buff *highest_sack;
    u8 ecn_flags;
    u8 nonagle: 4;
    u8 rate_app_limited: 1;
    __be32 pred_flags;
    u64 tcp_clock_cache;
    u64 tcp_mstamp;
    u32 rcv_nxt;
    u32 snd_nxt;
    u32 snd_una;
    u32 window_clamp;
    u32 srtt_us;
    u32 packets_out;
    u32 snd_up;
    u32 delivered;
    u32 delivered_ce;
    u32 received_ce;
    u32 app_limited;
    u32 rcv_wnd;
    u32 rcv_tstamp;
    struct tcp_options_received rx_opt;
    u64 bytes_received;
    u32 segs_in;
    u32 data_segs_in;
    u32 rcv_wup;
    u32 max_packets_out;
    u32 cwnd_usage_seq;
    u32 rate_delivered;
    u32 rate_interval_us;
    u32 rcv_rtt_last_tsecr;
    u64 first_tx_mstamp;
    u64 delivered_mstamp;
    u64 bytes_acked;
    struct {
        u32 rtt_us;
        u32 seq;
        u64 time;
    } rcv_rtt_est;
    struct {
        int space;
        u32 seq;
        u64 time;
    } rcvq_space;
    u32 dsack_dups;
    u32 compressed_ack_rcv_nxt;
    struct tcp_rack rack;
    u8 compressed_ack;
    u8 dup_ack_counter: 2;
    u8 tlp_retrans: 1;
    u8 frto: 1;
    u8 keepalive_probes;
    u32 tcp_tx_delay;
    u32 mdev_max_us;
    u32 reord_seen;
    u32 snd_cwnd_cnt;
    u32 snd_cwnd_clamp;
    u32 snd_cwnd_used;
    u32 snd_cwnd_stamp;
    u32 prior_cwnd;
    u32 prr_delivered;
    u32 last_oow_ack_time;
    struct tcp_sack_block duplicate_sack[1];
    struct tcp_sack_block selective_acks[4];
    struct tcp_sack_block recv_sack_cache[4];
    u32 prior_ssthresh;
    u32 high_seq;
    u32 retrans_stamp;
    u32 undo_marker;
    int undo_retrans;
    u32 mtu_info;
    u64 bytes_retrans;
    u32 total_retrans;
    u32 rto_stamp;
    u16 total_rto;
    u16 total_rto_recoveries;
    u32 total_rto_time;
    u32 urg_seq;
    unsigned int keepalive_time;
    unsigned int keepalive_intvl;
    int linger2;
    u8 bpf_sock_ops_cb_flags;
    u8 bpf_chg_cc_inprogress: 1;
    u16 timeout_rehash;
    u32 rcv_ooopack;
    struct {
        u32 probe_seq_start;
        u32 probe_seq_end;
    } mtu_probe;
    u32 plb_rehash;
    bool is_mptcp;
    struct request_sock *fastopen_rsk;
};

struct bpf_iter__tcp {
    union {
        struct bpf_iter_meta *meta;
    };
    union {
        struct sock_common *sk_common;
    };
    uid_t uid __aligned(8);
};

u32 tcp_congestion_ops__ssthresh(struct sock *sk);
void tcp_congestion_ops__cong_avoid(struct sock *sk, u32 ack, u32 acked);
void tcp_congestion_ops__set_state(struct sock *sk, u8 new_state);
void tcp_congestion_ops__cwnd_event(struct sock *sk, enum tcp_ca_event ev);
void tcp_congestion_ops__in_ack_event(struct sock *sk, u32 flags);
void tcp_congestion_ops__pkts_acked(struct sock *sk, const struct ack_sample *sample);
u32 tcp_congestion_ops__min_tso_segs(struct sock *sk);
void tcp_congestion_ops__cong_control(struct sock *sk, u32 ack, int flag, const struct rate_sample *rs);
u32 tcp_congestion_ops__undo_cwnd(struct sock *sk);
u32 tcp_congestion_ops__sndbuf_expand(struct sock *sk);
size_t tcp_congestion_ops__get_info(struct sock *sk, u32 ext, int *attr, union tcp_cc_info *info);
void tcp_congestion_ops__init(struct sock *sk);
void tcp_congestion_ops__release(struct sock *sk);
"""
