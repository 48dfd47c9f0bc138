; bpf-to-bpf calls: the main program calls a function, which calls another one.
; Each call gets its own 512-byte stack frame (r10), arguments go in r1-r5, the result
; comes back in r0, and r6-r9 survive the call.
;
; Program type: xdp.  Verdict: XDP_PASS (2) for a TCP or UDP packet with a well-known
; port (below 1024) on either side, XDP_DROP (1) for one between two high ports, and
; XDP_PASS for anything that is not IPv4 TCP/UDP with a 20-byte header.

main:
        r2 = *(u32 *)(r1 + 0)   ; data
        r3 = *(u32 *)(r1 + 4)   ; data_end
        r0 = 2                  ; XDP_PASS
        r4 = r2
        r4 += 38                ; Ethernet + 20-byte IPv4 + the two ports
        if r4 > r3 goto done
        r5 = *(u16 *)(r2 + 12)
        if r5 != 0x0008 goto done ; not IPv4
        r5 = *(u8 *)(r2 + 14)
        if r5 != 0x45 goto done ; IPv4 with options: not handled here
        r5 = *(u8 *)(r2 + 23)
        if r5 == 6 goto ports
        if r5 != 17 goto done   ; neither TCP nor UDP
ports:
        r1 = *(u16 *)(r2 + 34)  ; source port (network byte order)
        r2 = *(u16 *)(r2 + 36)  ; destination port
        call any_well_known     ; r0 = 1 if either port is below 1024
        r0 += 1                 ; 0 -> XDP_DROP (1), 1 -> XDP_PASS (2)
done:
        exit

; any_well_known(r1 = port, r2 = port): 1 if either port is well known, else 0.
any_well_known:
        r6 = r2                 ; r6 is callee-saved: this function's own, across the call
        call well_known
        *(u64 *)(r10 - 8) = r0  ; keep the first answer in this frame's stack
        r1 = r6
        call well_known
        r1 = *(u64 *)(r10 - 8)
        r0 |= r1
        exit

; well_known(r1 = port in network byte order): 1 if below 1024, else 0.
well_known:
        r1 = be16 r1
        r0 = 0
        if r1 >= 1024 goto high
        r0 = 1
high:
        exit
