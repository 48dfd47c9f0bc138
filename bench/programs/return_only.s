; The smallest program there is: return XDP_PASS.  Its time per run is the fixed cost of
; one test run (setting up registers and stack, entering and leaving the interpreter),
; which every other figure includes.
;
; Program type: xdp.  Returns XDP_PASS (2).  Executed: 2 instructions.

        r0 = 2
        exit
