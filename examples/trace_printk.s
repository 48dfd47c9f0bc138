; bpf_trace_printk: print a line per packet to the trace buffer
; (/sys/kernel/tracing/trace_pipe on Linux; kernel.trace.read() in pybpf).
;
; Program type: xdp.  Map 0: array, key u32, value 32 bytes, 1 entry, read-only for
; programs (BPF_F_RDONLY_PROG) and frozen, holding the NUL-terminated format string
; "len %d proto 0x%04x ttl %u\n": this is how clang and libbpf hand a program its string
; constants (a .rodata map the program reads by address, map[idx:0][0]+offset).
; Returns XDP_PASS (2).  Frames that are not IPv4 print ttl 0.

        r2 = *(u32 *)(r1 + 0)   ; data
        r3 = *(u32 *)(r1 + 4)   ; data_end
        r4 = r2
        r4 += 14
        if r4 > r3 goto out     ; no Ethernet header (a test run always has one)
        r4 = *(u16 *)(r2 + 12)  ; arg 2: the EtherType ...
        r4 = be16 r4            ; ... as a number: 0x0800, 0x0806, 0x86dd, ...
        r5 = 0                  ; arg 3: the TTL, 0 unless IPv4
        if r4 != 0x0800 goto print
        r0 = r2
        r0 += 34
        if r0 > r3 goto print   ; too short for an IPv4 header
        r5 = *(u8 *)(r2 + 22)
print:
        r3 -= r2                ; arg 1: the frame length (data_end - data)
        r1 = map[idx:0][0]+0    ; fmt: the string in the map's value
        r2 = 28                 ; its size, NUL included
        call bpf_trace_printk   ; r0 = the number of bytes printed
out:
        r0 = 2                  ; XDP_PASS
        exit
