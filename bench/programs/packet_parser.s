; Packet parser: Ethernet -> IPv4 -> TCP/UDP with the bounds checks the verifier demands,
; returning an XDP verdict.  A typical firewall's front half.
;
; Program type: xdp.  r1 = struct xdp_md *: data at +0, data_end at +4 (u32 fields that
; the kernel rewrites into packet pointers).
; Verdicts: XDP_DROP (1) for truncated or malformed IPv4, TTL <= 1, TCP to port 23 and
; UDP to port 19 (chargen); XDP_PASS (2) for everything else, including fragments and
; non-IPv4 traffic.

        r2 = *(u32 *)(r1 + 0)   ; data
        r3 = *(u32 *)(r1 + 4)   ; data_end
        r0 = 2                  ; XDP_PASS unless something below says otherwise
        r4 = r2
        r4 += 14
        if r4 > r3 goto out     ; shorter than an Ethernet header: not ours to judge
        r5 = *(u16 *)(r2 + 12)  ; EtherType, network byte order
        if r5 != 0x0008 goto out ; 0x0800 (IPv4) read as a little-endian u16
        r4 = r2
        r4 += 34
        if r4 > r3 goto drop    ; an IPv4 frame too short for the fixed header
        r5 = *(u8 *)(r2 + 14)   ; version and IHL
        r6 = r5
        r6 >>= 4
        if r6 != 4 goto drop    ; the version nibble must say 4
        r5 &= 0x0f
        if r5 < 5 goto drop     ; IHL below 5 words is malformed
        r5 <<= 2                ; header length in bytes: 20..60
        r6 = *(u16 *)(r2 + 20)  ; flags and fragment offset
        r6 = be16 r6
        r6 &= 0x3fff            ; MF or a non-zero offset: a fragment
        if r6 != 0 goto out     ; fragments pass without an L4 look
        r6 = *(u8 *)(r2 + 22)   ; TTL
        if r6 <= 1 goto drop
        r7 = *(u8 *)(r2 + 23)   ; protocol
        r2 += 14
        r2 += r5                ; r2 = the L4 header (a packet pointer with a bounded offset)
        if r7 == 6 goto tcp
        if r7 == 17 goto udp
        goto out
tcp:
        r4 = r2
        r4 += 20
        if r4 > r3 goto drop    ; truncated TCP header
        r5 = *(u16 *)(r2 + 2)   ; destination port
        r5 = be16 r5
        if r5 == 23 goto drop   ; no telnet
        r6 = *(u8 *)(r2 + 13)   ; TCP flags
        r6 &= 0x07              ; FIN, SYN, RST
        if r6 == 0x03 goto drop ; SYN+FIN together is never legitimate
        goto out
udp:
        r4 = r2
        r4 += 8
        if r4 > r3 goto drop    ; truncated UDP header
        r5 = *(u16 *)(r2 + 2)
        r5 = be16 r5
        if r5 == 19 goto drop   ; no chargen
        goto out
drop:
        r0 = 1                  ; XDP_DROP
out:
        exit
