; Tight ALU loop: 1000 rounds of a xorshift mix over r0, no memory access at all.
; This measures the interpreter's raw dispatch cost: every instruction is a register
; operation or the loop's conditional jump.
;
; Program type: socket_filter (any packet of 14+ bytes; the packet is not read).
; Result: r0 = the mixed value; a test run reports it as a u32.
; Executed: 3 setup + 1000 * 12 loop + 1 exit = 12004 instructions.

        r0 = 0x12345678         ; the mixing state
        r1 = 0                  ; loop counter
        r2 = 1000               ; rounds (a known constant, so the verifier can bound the loop)
loop:
        r3 = r0                 ; xorshift64: x ^= x << 13
        r3 <<= 13
        r0 ^= r3
        r3 = r0                 ;             x ^= x >> 7
        r3 >>= 7
        r0 ^= r3
        r3 = r0                 ;             x ^= x << 17
        r3 <<= 17
        r0 ^= r3
        r0 += r1                ; fold the counter in
        r1 += 1
        if r1 < r2 goto loop
        exit
