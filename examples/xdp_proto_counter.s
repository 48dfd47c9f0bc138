; XDP packet counter: count packets per IP protocol in a hash map.
;
; Program type: xdp.  r1 = struct xdp_md *: data at +0, data_end at +4.
; Map 0 (map[idx:0]): hash, key u32, value u64, 16 entries.
;   key = the IPv4 protocol number (1 ICMP, 6 TCP, 17 UDP, ...) for IPv4 frames,
;         256 for every other frame (ARP, IPv6, runts).
;   value = packets seen with that key.
; Returns XDP_PASS (2): the counter only watches.
;
; The first packet of a protocol inserts the key with BPF_NOEXIST; later ones find it and
; add one with an atomic instruction, which is how per-key counters are written when
; several CPUs run the program at once.

        r2 = *(u32 *)(r1 + 0)   ; data
        r3 = *(u32 *)(r1 + 4)   ; data_end
        r6 = 256                ; key for "not IPv4"
        r4 = r2
        r4 += 34                ; Ethernet (14) + the fixed IPv4 header (20)
        if r4 > r3 goto count   ; too short to be IPv4
        r5 = *(u16 *)(r2 + 12)  ; EtherType, network byte order
        if r5 != 0x0008 goto count ; 0x0800 (IPv4) read as a little-endian u16
        r6 = *(u8 *)(r2 + 23)   ; the IPv4 protocol field
count:
        *(u32 *)(r10 - 4) = r6  ; key on the stack
        r1 = map[idx:0]
        r2 = r10
        r2 += -4
        call bpf_map_lookup_elem
        if r0 == 0 goto first
        r1 = 1
        lock *(u64 *)(r0 + 0) += r1 ; existing key: count atomically
        goto out
first:
        *(u64 *)(r10 - 16) = 1  ; the first packet of this protocol
        r1 = map[idx:0]
        r2 = r10
        r2 += -4
        r3 = r10
        r3 += -16
        r4 = 1                  ; BPF_NOEXIST
        call bpf_map_update_elem
out:
        r0 = 2                  ; XDP_PASS
        exit
