; Traffic-control classifier that rewrites a packet: decrement the IPv4 TTL as a router
; does, patching the header checksum incrementally (RFC 1141), and write both back with
; bpf_skb_store_bytes.  Frames whose TTL would reach zero are dropped.
;
; Program type: sched_cls.  r1 = struct __sk_buff *; a sched_cls program sees the whole
; frame from the Ethernet header, so the IPv4 TTL is at offset 14 + 8 = 22, followed by
; the protocol (23) and the header checksum (24..25).
; Returns TC_ACT_OK (0) after rewriting, TC_ACT_SHOT (2) for TTL <= 1, and TC_ACT_OK
; untouched for anything that is not IPv4.

        r6 = r1                 ; keep the skb: helpers clobber r1-r5
        r0 = 0                  ; TC_ACT_OK
        r2 = *(u32 *)(r6 + 16)  ; skb->protocol (network byte order)
        if r2 != 0x0008 goto out ; not IPv4
        r1 = r6
        r2 = 22                 ; offset of the TTL
        r3 = r10
        r3 += -8
        r4 = 4                  ; TTL, protocol, checksum
        call bpf_skb_load_bytes
        if r0 != 0 goto shot    ; a frame too short for an IPv4 header
        r7 = *(u8 *)(r10 - 8)   ; TTL
        if r7 <= 1 goto shot
        r7 -= 1
        *(u8 *)(r10 - 8) = r7
        r8 = *(u16 *)(r10 - 6)  ; checksum, network byte order
        r8 = be16 r8
        r8 += 0x0100            ; the TTL/protocol word went down by 0x0100 ...
        r9 = r8
        r9 >>= 16               ; ... so the checksum goes up by it, end-around carry
        r8 &= 0xffff
        r8 += r9
        r8 = be16 r8
        *(u16 *)(r10 - 6) = r8
        r1 = r6
        r2 = 22
        r3 = r10
        r3 += -8
        r4 = 4
        r5 = 0                  ; flags: no skb->csum update, keep the hash
        call bpf_skb_store_bytes
        r0 = 0                  ; TC_ACT_OK
        goto out
shot:
        r0 = 2                  ; TC_ACT_SHOT
out:
        exit
