; Array-map counter: one bpf_map_lookup_elem on a one-element array map per packet and
; an atomic increment of the value it points to (the helper the jit tier writes in IR).
;
; Program type: xdp.  Map 0: array, key u32, value u64, one element.
; Returns XDP_PASS (2) always.

        r2 = *(u32 *)(r1 + 0)   ; data
        r3 = *(u32 *)(r1 + 4)   ; data_end
        r4 = r2
        r4 += 14
        if r4 > r3 goto pass    ; no room for an Ethernet header
        *(u32 *)(r10 - 4) = 0   ; the key, on the stack
        r1 = map[idx:0]
        r2 = r10
        r2 += -4
        call bpf_map_lookup_elem
        if r0 == 0 goto pass
        r1 = 1
        lock *(u64 *)(r0 + 0) += r1
pass:
        r0 = 2                  ; XDP_PASS
        exit
