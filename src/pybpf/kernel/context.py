"""The UAPI context structures programs see: ``struct __sk_buff``, ``struct xdp_md``,
``struct bpf_sock``, as (name, offset, size) tables."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CtxField:
    name: str
    offset: int
    size: int

    @property
    def end(self) -> int:
        return self.offset + self.size


@dataclass(frozen=True)
class CtxLayout:
    name: str
    size: int
    fields: tuple[CtxField, ...]

    def field(self, name: str) -> CtxField:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    def at(self, offset: int) -> CtxField | None:
        """The field covering byte ``offset``."""
        for f in self.fields:
            if f.offset <= offset < f.end:
                return f
        return None

    def offset(self, name: str) -> int:
        return self.field(name).offset


def _layout(name: str, size: int, spec: list[tuple[str, int]]) -> CtxLayout:
    fields, off = [], 0
    for fname, fsize in spec:
        if fname.startswith("@"):  # explicit offset marker
            off = fsize
            continue
        fields.append(CtxField(fname, off, fsize))
        off += fsize
    return CtxLayout(name, size, tuple(fields))


SK_BUFF = _layout(
    "__sk_buff",
    192,
    [
        ("len", 4), ("pkt_type", 4), ("mark", 4), ("queue_mapping", 4), ("protocol", 4),
        ("vlan_present", 4), ("vlan_tci", 4), ("vlan_proto", 4), ("priority", 4),
        ("ingress_ifindex", 4), ("ifindex", 4), ("tc_index", 4), ("cb", 20), ("hash", 4),
        ("tc_classid", 4), ("data", 4), ("data_end", 4), ("napi_id", 4), ("family", 4),
        ("remote_ip4", 4), ("local_ip4", 4), ("remote_ip6", 16), ("local_ip6", 16),
        ("remote_port", 4), ("local_port", 4), ("data_meta", 4), ("flow_keys", 8),
        ("tstamp", 8), ("wire_len", 4), ("gso_segs", 4), ("sk", 8), ("gso_size", 4),
        ("tstamp_type", 1), ("@", 184), ("hwtstamp", 8),
    ],
)  # fmt: skip

XDP_MD = _layout(
    "xdp_md",
    24,
    [("data", 4), ("data_end", 4), ("data_meta", 4), ("ingress_ifindex", 4),
     ("rx_queue_index", 4), ("egress_ifindex", 4)],
)  # fmt: skip

BPF_SOCK = _layout(
    "bpf_sock",
    80,
    [
        ("bound_dev_if", 4), ("family", 4), ("type", 4), ("protocol", 4), ("mark", 4),
        ("priority", 4), ("src_ip4", 4), ("src_ip6", 16), ("src_port", 4), ("dst_port", 4),
        ("dst_ip4", 4), ("dst_ip6", 16), ("state", 4), ("rx_queue_mapping", 4),
    ],
)  # fmt: skip
