; A bounded loop: count the 1-bits of the 8 bytes after the Ethernet header.
; Since Linux 5.3 the verifier accepts loops it can prove to end; here the counter runs
; from 0 to 64 in steps of one, a constant bound.
;
; Program type: socket_filter (any frame of at least 22 bytes).  The socket filter reads
; the bytes with bpf_skb_load_bytes, which counts from the network header.
; Returns the number of 1-bits (0..64), or 0 if the frame is too short.

        r2 = 0                  ; r1 = the skb; offset 0 = the network header
        r3 = r10
        r3 += -8
        r4 = 8
        call bpf_skb_load_bytes ; 8 bytes onto the stack
        if r0 != 0 goto out     ; too short: r0 is -EFAULT, return 0 below
        r1 = *(u64 *)(r10 - 8)  ; the value to count (little-endian)
        r0 = 0                  ; bits seen
        r2 = 0                  ; bit index
loop:
        r3 = r1
        r3 >>= r2
        r3 &= 1
        r0 += r3
        r2 += 1
        if r2 < 64 goto loop
        exit
out:
        r0 = 0
        exit
