"""The simulated kernel's types, as C text, one module per subsystem.

Names are the Linux kernel's (so CO-RE relocations written against a real
``vmlinux.h`` find them); which members exist and where they sit is pybpf's choice.
``SOURCES`` is the order they are read in: a type is defined before it is embedded.
"""

from __future__ import annotations

from . import base, bpf, cache, fs, iter, keys, net, sched, sockets, tcp, testmod, trace, uapi

SOURCES: tuple[tuple[str, str], ...] = (
    ("base", base.DECLS),
    ("uapi", uapi.DECLS),
    ("sched", sched.DECLS),
    ("fs", fs.DECLS),
    ("bpf", bpf.DECLS),
    ("iter", iter.DECLS),
    ("net", net.DECLS),
    ("tcp", tcp.DECLS),
    ("testmod", testmod.DECLS),
    ("cache", cache.DECLS),
    ("keys", keys.DECLS),
    ("trace", trace.DECLS),
    ("sockets", sockets.DECLS),
)
