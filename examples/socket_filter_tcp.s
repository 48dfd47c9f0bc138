; Socket filter written with the legacy packet loads (LD_ABS), as classic BPF filters
; translated to eBPF are: accept IPv4 TCP, drop everything else.
;
; Program type: socket_filter.  LD_ABS loads read big-endian values from the skb in r6
; (which must hold the context) into r0; a load past the end of the packet ends the
; program with r0 = 0, i.e. "drop".  A socket filter's return value is how many bytes of
; the packet to keep: 0 drops it, 0xffffffff keeps all of it.
;
; For a socket filter, offsets count from the network header (skb->data is at L3, as on
; a socket).  The Ethernet header is still reachable through the SKF_LL_OFF area
; (-0x200000): SKF_LL_OFF + 12 is the EtherType.

        r6 = r1                 ; LD_ABS takes the skb from r6
        r0 = *(u16 *)skb[-2097140] ; SKF_LL_OFF + 12: the EtherType
        if r0 != 0x0800 goto drop ; not IPv4
        r0 = *(u8 *)skb[9]      ; IPv4 header byte 9: the protocol
        if r0 != 6 goto drop    ; not TCP
        r0 = -1                 ; keep the whole packet (retval 0xffffffff)
        exit
drop:
        r0 = 0
        exit
