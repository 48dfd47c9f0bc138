"""``pybpf_cache_ops``: pybpf's own struct_ops type, a pluggable cache eviction policy
(see :mod:`pybpf.kernel.vmlinux.decls.cache`), and a cache simulator it drives."""
