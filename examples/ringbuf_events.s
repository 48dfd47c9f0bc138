; Ring buffer producer: one 16-byte event per IPv4 packet, for user space to consume.
;
; Program type: xdp.  Map 0: ringbuf of 4096 bytes (no key, no value).
; Event layout (little-endian, 16 bytes):
;   u32 source address, u32 destination address (both as on the wire),
;   u16 frame length, u8 IP protocol, u8 TTL, 4 bytes of zero padding.
; bpf_ringbuf_reserve hands out room in the buffer (or NULL when it is full), the program
; fills it in place and bpf_ringbuf_submit makes it visible to the consumer.
; Returns XDP_PASS (2) always; non-IPv4 frames produce no event.

        r2 = *(u32 *)(r1 + 0)   ; data
        r3 = *(u32 *)(r1 + 4)   ; data_end
        r6 = r2                 ; keep data: helpers clobber r1-r5
        r7 = r3                 ; and data_end
        r4 = r2
        r4 += 34
        if r4 > r3 goto pass    ; no room for Ethernet + IPv4
        r5 = *(u16 *)(r2 + 12)
        if r5 != 0x0008 goto pass ; not IPv4
        r1 = map[idx:0]
        r2 = 16                 ; record size
        r3 = 0                  ; flags
        call bpf_ringbuf_reserve
        if r0 == 0 goto pass    ; buffer full: the event is lost
        r1 = *(u32 *)(r6 + 26)  ; source address (r6 is known to have 34 bytes: checked above)
        *(u32 *)(r0 + 0) = r1
        r1 = *(u32 *)(r6 + 30)  ; destination address
        *(u32 *)(r0 + 4) = r1
        r1 = r7
        r1 -= r6                ; frame length
        *(u16 *)(r0 + 8) = r1
        r1 = *(u8 *)(r6 + 23)   ; protocol
        *(u8 *)(r0 + 10) = r1
        r1 = *(u8 *)(r6 + 22)   ; TTL
        *(u8 *)(r0 + 11) = r1
        *(u32 *)(r0 + 12) = 0   ; padding: a reserved record is not zeroed
        r1 = r0
        r2 = 0                  ; flags: wake the consumer as usual
        call bpf_ringbuf_submit
pass:
        r0 = 2                  ; XDP_PASS
        exit
