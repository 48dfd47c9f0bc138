; Hash-map counter: count packets per IPv4 source address, one lookup per packet and
; an atomic increment of the value (or an insert for a new address).
;
; Program type: xdp.  Map 0: hash, key u32 (source address as on the wire), value u64.
; Returns XDP_PASS (2) always.

        r2 = *(u32 *)(r1 + 0)   ; data
        r3 = *(u32 *)(r1 + 4)   ; data_end
        r4 = r2
        r4 += 34
        if r4 > r3 goto pass    ; no room for Ethernet + IPv4
        r5 = *(u16 *)(r2 + 12)
        if r5 != 0x0008 goto pass ; not IPv4
        r5 = *(u32 *)(r2 + 26)  ; source address
        *(u32 *)(r10 - 4) = r5  ; the key, on the stack
        r1 = map[idx:0]
        r2 = r10
        r2 += -4
        call bpf_map_lookup_elem
        if r0 == 0 goto insert
        r1 = 1
        lock *(u64 *)(r0 + 0) += r1 ; seen before: count it
        goto pass
insert:
        *(u64 *)(r10 - 16) = 1  ; first packet from this address
        r1 = map[idx:0]
        r2 = r10
        r2 += -4
        r3 = r10
        r3 += -16
        r4 = 0                  ; BPF_ANY
        call bpf_map_update_elem
pass:
        r0 = 2                  ; XDP_PASS
        exit
