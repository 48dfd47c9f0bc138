; Checksum: the 16-bit ones' complement sum (RFC 1071) of the whole packet, one
; bounds-checked 2-byte packet load per iteration.  Memory-bound where alu_loop is not.
;
; Program type: xdp.  Returns the folded, inverted checksum (0..0xffff).
; The loop runs at most 1024 times (2048 bytes); it stops early at data_end.

        r2 = *(u32 *)(r1 + 0)   ; data
        r3 = *(u32 *)(r1 + 4)   ; data_end
        r0 = 0                  ; running sum
        r4 = 0                  ; byte offset
loop:
        r5 = r2
        r5 += r4
        r6 = r5
        r6 += 2
        if r6 > r3 goto fold    ; fewer than 2 bytes left
        r6 = *(u16 *)(r5 + 0)
        r0 += r6
        r4 += 2
        if r4 < 2048 goto loop
fold:
        r1 = r0                 ; fold the carries twice: sum = (sum & 0xffff) + (sum >> 16)
        r1 >>= 16
        r0 &= 0xffff
        r0 += r1
        r1 = r0
        r1 >>= 16
        r0 &= 0xffff
        r0 += r1
        r0 ^= 0xffff
        exit
