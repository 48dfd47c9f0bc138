/* Reno in BPF: slow start to ssthresh, then one segment per window of
 * acknowledgements; halve the window on loss.  Same arithmetic as the kernel's
 * tcp_reno_* functions (and pybpf's Python reference), written out in C. */
#include "tcp_ca.h"

static __u32 slow_start(struct tcp_sock *tp, __u32 acked)
{
	__u32 cwnd = min(tp->snd_cwnd + acked, tp->snd_ssthresh);

	acked -= cwnd - tp->snd_cwnd;
	tp->snd_cwnd = min(cwnd, tp->snd_cwnd_clamp);
	return acked;
}

static void cong_avoid_ai(struct tcp_sock *tp, __u32 w, __u32 acked)
{
	__u32 cnt = tp->snd_cwnd_cnt, cwnd = tp->snd_cwnd;

	if (w == 0)
		w = 1;
	if (cnt >= w) {
		cnt = 0;
		cwnd++;
	}
	cnt += acked;
	if (cnt >= w) {
		__u32 delta = cnt / w;

		cnt -= delta * w;
		cwnd += delta;
	}
	tp->snd_cwnd_cnt = cnt;
	tp->snd_cwnd = min(cwnd, tp->snd_cwnd_clamp);
}

SEC("struct_ops")
__u32 BPF_PROG(reno_ssthresh, struct sock *sk)
{
	return max(tcp_sk(sk)->snd_cwnd >> 1U, 2U);
}

SEC("struct_ops")
void BPF_PROG(reno_cong_avoid, struct sock *sk, __u32 ack, __u32 acked)
{
	struct tcp_sock *tp = tcp_sk(sk);

	if (tp->snd_cwnd < tp->snd_ssthresh) {
		acked = slow_start(tp, acked);
		if (!acked)
			return;
	}
	cong_avoid_ai(tp, tp->snd_cwnd, acked);
}

SEC("struct_ops")
__u32 BPF_PROG(reno_undo_cwnd, struct sock *sk)
{
	struct tcp_sock *tp = tcp_sk(sk);

	return max(tp->snd_cwnd, tp->prior_cwnd);
}

SEC(".struct_ops")
struct tcp_congestion_ops reno = {
	.ssthresh = (void *)reno_ssthresh,
	.cong_avoid = (void *)reno_cong_avoid,
	.undo_cwnd = (void *)reno_undo_cwnd,
	.name = "bpf_reno",
};
