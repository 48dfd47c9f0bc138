/* CUBIC in BPF: W(t) = C (t - K)^3 + W_max with C = 0.4, t in milliseconds since the
 * epoch began plus the smoothed RTT, beta = 717/1024 and fast convergence; slow start
 * below ssthresh.  No HyStart and no Reno-friendly region.  The same integer
 * arithmetic as pybpf's Python reference (pybpf.struct_ops.tcp.algos.Cubic). */
#include "tcp_ca.h"

#define BETA 717

extern __u32 tcp_slow_start(struct tcp_sock *tp, __u32 acked) __ksym;
extern void tcp_cong_avoid_ai(struct tcp_sock *tp, __u32 w, __u32 acked) __ksym;

struct cubic {
	__u32 cnt;
	__u32 w_max;
	__u32 k_ms;
	__u32 epoch_ms;
	__u32 origin;
	__u32 ack_cnt;
	__u32 tcp_cwnd;
};

static __u32 fls64(__u64 x)
{
	__u32 n = 0;

	if (x >> 32) {
		n += 32;
		x >>= 32;
	}
	if (x >> 16) {
		n += 16;
		x >>= 16;
	}
	if (x >> 8) {
		n += 8;
		x >>= 8;
	}
	if (x >> 4) {
		n += 4;
		x >>= 4;
	}
	if (x >> 2) {
		n += 2;
		x >>= 2;
	}
	if (x >> 1) {
		n += 1;
		x >>= 1;
	}
	return n + (x != 0);
}

/* The integer cube root: Newton's iteration from a power of two above the root, then
 * a step either way to land on floor(cbrt(x)). */
static __u32 icbrt(__u64 x)
{
	__u64 r;
	int i;

	if (x == 0)
		return 0;
	r = 1ULL << ((fls64(x) + 2) / 3);
	for (i = 0; i < 6; i++)
		r = (2 * r + x / (r * r)) / 3;
	if (r * r * r > x)
		r--;
	if (r * r * r > x)
		r--;
	if ((r + 1) * (r + 1) * (r + 1) <= x)
		r++;
	return r;
}

static void reset(struct cubic *ca)
{
	ca->cnt = 0;
	ca->w_max = 0;
	ca->k_ms = 0;
	ca->epoch_ms = 0;
	ca->origin = 0;
	ca->ack_cnt = 0;
	ca->tcp_cwnd = 0;
}

SEC("struct_ops")
void BPF_PROG(cubic_init, struct sock *sk)
{
	reset(inet_csk_ca(sk));
}

SEC("struct_ops")
__u32 BPF_PROG(cubic_ssthresh, struct sock *sk)
{
	struct tcp_sock *tp = tcp_sk(sk);
	struct cubic *ca = inet_csk_ca(sk);
	__u32 cwnd = tp->snd_cwnd;

	ca->epoch_ms = 0;
	if (cwnd < ca->w_max)
		ca->w_max = cwnd * (1024 + BETA) / 2048;
	else
		ca->w_max = cwnd;
	return max((cwnd * BETA) >> 10, 2U);
}

SEC("struct_ops")
void BPF_PROG(cubic_state, struct sock *sk, __u8 new_state)
{
	if (new_state == TCP_CA_Loss)
		reset(inet_csk_ca(sk));
}

SEC("struct_ops")
void BPF_PROG(cubic_cong_avoid, struct sock *sk, __u32 ack, __u32 acked)
{
	struct tcp_sock *tp = tcp_sk(sk);
	struct cubic *ca = inet_csk_ca(sk);
	__u32 cwnd, now_ms, t, d, cnt;
	__u64 delta, target;

	if (tp->snd_cwnd < tp->snd_ssthresh) {
		acked = tcp_slow_start(tp, acked);
		if (!acked)
			return;
	}
	cwnd = tp->snd_cwnd;
	now_ms = tp->tcp_mstamp / 1000;
	if (ca->epoch_ms == 0) {
		ca->epoch_ms = now_ms ? now_ms : 1;
		ca->ack_cnt = acked;
		if (ca->w_max <= cwnd) {
			ca->k_ms = 0;
			ca->origin = cwnd;
		} else {
			ca->k_ms = icbrt((__u64)(ca->w_max - cwnd) * 2500000000ULL);
			ca->origin = ca->w_max;
		}
	}
	t = (now_ms - ca->epoch_ms) + (tp->srtt_us >> 3) / 1000;
	d = t > ca->k_ms ? t - ca->k_ms : ca->k_ms - t;
	delta = 4ULL * d * d * d / 10000000000ULL;
	if (t > ca->k_ms)
		target = ca->origin + delta;
	else
		target = ca->origin - min(delta, (__u64)ca->origin);
	if (target > cwnd)
		cnt = cwnd / (target - cwnd);
	else
		cnt = 100 * cwnd;
	if (ca->w_max == 0 && cnt > 20)
		cnt = 20;
	ca->cnt = cnt ? cnt : 1;
	tcp_cong_avoid_ai(tp, ca->cnt, acked);
}

SEC("struct_ops")
__u32 BPF_PROG(cubic_undo_cwnd, struct sock *sk)
{
	struct tcp_sock *tp = tcp_sk(sk);

	return max(tp->snd_cwnd, tp->prior_cwnd);
}

SEC(".struct_ops.link")
struct tcp_congestion_ops cubic = {
	.init = (void *)cubic_init,
	.ssthresh = (void *)cubic_ssthresh,
	.set_state = (void *)cubic_state,
	.cong_avoid = (void *)cubic_cong_avoid,
	.undo_cwnd = (void *)cubic_undo_cwnd,
	.name = "bpf_cubic_ex",
};
