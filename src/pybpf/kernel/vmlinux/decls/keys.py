"""Keys and keyrings (``CONFIG_KEYS``): the handle the key kfuncs pass around.

A program never reads a key's contents; it only holds the ``bpf_key`` wrapper
that a lookup kfunc returns, hands it to signature checks and gives it back."""

DECLS = r"""
struct key {
    refcount_t usage;
    s32 serial;
};

struct bpf_key {
    struct key *key;
    bool has_ref;
};
"""
