"""Fragments that touch memory: the stack (all sizes, sign-extending loads, atomics) and
maps (helpers with NULL checks, direct value access, read-only frozen data)."""

from __future__ import annotations

from ..isa.helper_ids import HELPER_IDS
from ..isa.opcodes import AluOp, AtomicOp, JmpOp
from . import asm
from .asm import Label
from .gen import BPF_F_NO_PREALLOC, BPF_F_RDONLY_PROG, FP, Gen, MapInfo

ATOMIC_OPS = (AtomicOp.ADD, AtomicOp.AND, AtomicOp.OR, AtomicOp.XOR, AtomicOp.FETCH_ADD,
              AtomicOp.FETCH_AND, AtomicOp.FETCH_OR, AtomicOp.FETCH_XOR, AtomicOp.XCHG,
              AtomicOp.CMPXCHG)  # fmt: skip

HELPER_LOOKUP = HELPER_IDS["map_lookup_elem"]
HELPER_UPDATE = HELPER_IDS["map_update_elem"]
HELPER_DELETE = HELPER_IDS["map_delete_elem"]
HELPER_LOOKUP_PERCPU = HELPER_IDS["map_lookup_percpu_elem"]


# --- the stack ---------------------------------------------------------------------------


def _stack_slot(g: Gen, size: int) -> int:
    return -size * g.rng.randint(1, g.frame.scratch // size)


def frag_stack(g: Gen) -> None:
    """Stores and loads of every size in the initialised scratch area."""
    g.note("stack")
    rng = g.rng
    for _ in range(rng.randint(2, 6)):
        size = rng.choice([1, 2, 4, 8])
        off = _stack_slot(g, size)
        r = rng.random()
        if r < 0.3:
            g.emit(asm.stx(size, FP, g.scalar(), off))
        elif r < 0.45:
            g.emit(asm.st(size, FP, off, g.imm32()))
        elif r < 0.6:
            # through a pointer register holding fp - n
            p = g.temp()
            base = -8 * rng.randint(1, g.frame.scratch // 8)
            g.emit(asm.mov(p, FP), asm.alu(True, AluOp.ADD, p, None, base))
            inner = rng.randrange(0, -base - size + 1, size)
            t = g.temp(avoid=(p,))
            signed = size < 8 and rng.random() < 0.3
            g.emit(asm.ldx(size, t, p, inner, signed))
            g.define(t)
            g.mix(t)
            if rng.random() < 0.5:
                g.emit(asm.stx(size, p, g.scalar(), inner))
        else:
            t = g.temp()
            signed = size < 8 and rng.random() < 0.35
            g.emit(asm.ldx(size, t, FP, off, signed))
            if signed:
                g.note("ldsx")
            g.define(t)
            if rng.random() < 0.7:
                g.mix(t)


def frag_stack_var(g: Gen) -> None:
    """A load from the stack at a variable (masked) offset."""
    g.note("stack")
    rng = g.rng
    span = min(g.frame.scratch, 64)
    p = g.temp()
    v = g.temp(avoid=(p,))
    size = rng.choice([1, 2, 4, 8])
    g.emit(asm.mov(p, FP), asm.alu(True, AluOp.ADD, p, None, -span))
    g.emit(asm.mov(v, g.acc()), asm.alu(True, AluOp.AND, v, None, (span - 1) & ~(size - 1)))
    g.emit(asm.alu(True, AluOp.ADD, p, v))
    t = g.temp(avoid=(p, v))
    g.emit(asm.ldx(size, t, p, 0))
    g.define(t)
    g.mix(t)


def atomic_op(g: Gen, base: int, off: int, size: int, avoid: tuple[int, ...] = ()) -> None:
    """One atomic read-modify-write at ``base + off``; results folded into the accumulators."""
    rng = g.rng
    # cmpxchg compares with r0 and writes it: not while r0 holds the base pointer
    cmpxchg_ok = base != 0 and 0 not in g.frame.reserved
    op = rng.choice([o for o in ATOMIC_OPS if cmpxchg_ok or o != AtomicOp.CMPXCHG])
    g.note("atomic")
    if op == AtomicOp.CMPXCHG:
        g.clobber([0])
        if rng.random() < 0.5:  # the expected value matches: the exchange happens
            g.emit(asm.ldx(size, 0, base, off))
        else:
            g.emit(asm.mov(0, g.scalar()))
        g.define(0)
        src = rng.choice([r for r in g.writable() if r != 0 and r not in avoid] or [7])
        g.emit(asm.atomic(size, op, base, src, off))
        g.mix(0)
    elif op & 1:  # fetch forms (and xchg) write the old value into src
        t = g.temp(avoid=(base, *avoid))
        g.emit(asm.mov(t, g.scalar()))
        g.define(t)
        g.emit(asm.atomic(size, op, base, t, off))
        g.mix(t)
    else:
        g.emit(asm.atomic(size, op, base, g.scalar(), off))


def frag_atomic_stack(g: Gen) -> None:
    g.note("atomic_stack")
    for _ in range(g.rng.randint(1, 3)):
        size = g.rng.choice([4, 8])
        off = _stack_slot(g, size)
        atomic_op(g, FP, off, size)
        if g.rng.random() < 0.5:
            t = g.temp()
            g.emit(asm.ldx(size, t, FP, off))
            g.define(t)
            g.mix(t)


# --- maps --------------------------------------------------------------------------------


def new_data_map(g: Gen, types: tuple[str, ...] | None = None) -> MapInfo:
    rng = g.rng
    kinds = types or ("array", "hash", "percpu_array", "percpu_hash", "lru_hash", "lru_percpu_hash")
    weights = {"array": 30, "hash": 25, "percpu_array": 10, "percpu_hash": 10, "lru_hash": 15,
               "lru_percpu_hash": 10}  # fmt: skip
    kind = rng.choices(kinds, [weights[k] for k in kinds])[0]
    value_size = rng.choice([4, 8, 8, 12, 16, 16, 24, 32, 48, 64])
    flags = 0
    if kind in ("array", "percpu_array"):
        key_size = 4
        max_entries = 1 if rng.random() < 0.3 else rng.randint(2, 8)
    else:
        key_size = rng.choice([4, 8])
        max_entries = rng.randint(2, 16)
        if kind in ("hash", "percpu_hash") and rng.random() < 0.3:
            flags |= BPF_F_NO_PREALLOC
    init = rng.getrandbits(8 * value_size).to_bytes(value_size, "little") if rng.random() < 0.6 else None
    return g.add_map(MapInfo(0, kind, key_size, value_size, max_entries, flags, init))


def direct_map(g: Gen) -> MapInfo:
    found = [m for m in g.data_maps() if m.direct]
    if found and g.rng.random() < 0.8:
        return g.rng.choice(found)
    return _new_direct(g)


def _new_direct(g: Gen) -> MapInfo:
    rng = g.rng
    vs = rng.choice([8, 16, 24, 32, 64])
    init = rng.getrandbits(8 * vs).to_bytes(vs, "little") if rng.random() < 0.6 else None
    return g.add_map(MapInfo(0, "array", 4, vs, 1, 0, init))


def rodata_map(g: Gen) -> MapInfo:
    found = [m for m in g.maps if m.role == "rodata"]
    if found:
        return found[0]
    vs = g.rng.choice([8, 16, 32, 64])
    init = g.rng.getrandbits(8 * vs).to_bytes(vs, "little")
    return g.add_map(MapInfo(0, "array", 4, vs, 1, BPF_F_RDONLY_PROG, init, True, "rodata"))


def pick_map(g: Gen, want: str = "any") -> MapInfo:
    maps = [m for m in g.data_maps() if want != "percpu" or m.percpu]
    if maps and (len(g.maps) >= g.config.max_maps or g.rng.random() < 0.7):
        return g.rng.choice(maps)
    if want == "percpu":
        return new_data_map(g, ("percpu_array", "percpu_hash", "lru_percpu_hash"))
    return new_data_map(g)


def _write_key(g: Gen, m: MapInfo, key: int | None = None) -> None:
    """The key for ``m`` into the frame's key buffer: a small constant or a masked value."""
    rng = g.rng
    kb = g.frame.key_buf
    space = m.max_entries + 2 if m.is_array else 8
    if key is not None or rng.random() < 0.6:
        g.emit(asm.st(m.key_size, FP, kb, rng.randrange(space) if key is None else key))
    else:
        t = g.temp()
        mask = (1 << max(1, (space - 1).bit_length())) - 1
        g.emit(asm.mov(t, g.acc()), asm.alu(True, AluOp.AND, t, None, mask))
        g.emit(asm.stx(m.key_size, FP, t, kb))


def _call_with_key(g: Gen, m: MapInfo, helper: int, key: int | None = None) -> None:
    g.before_call()
    _write_key(g, m, key)
    g.emit(asm.ld_map(1, m.index), asm.mov(2, FP), asm.alu(True, AluOp.ADD, 2, None, g.frame.key_buf))


def value_access(g: Gen, base: int, m: MapInfo, lo: int, count: int) -> None:
    """Reads, writes and atomics on the value of ``m`` through ``base`` (which points
    ``lo`` bytes into the value)."""
    rng = g.rng
    vs = m.value_size
    for _ in range(count):
        r = rng.random()
        if r < 0.25 and m.writable:
            size = rng.choice([4, 8] if vs >= 8 else [4])
            pos = rng.randrange(0, vs - size + 1, size)
            atomic_op(g, base, pos - lo, size, avoid=(base,))
        elif r < 0.55 and m.writable:
            size = rng.choice([s for s in (1, 2, 4, 8) if s <= vs])
            pos = rng.randint(0, vs - size)
            if rng.random() < 0.5:
                g.emit(asm.stx(size, base, g.scalar(), pos - lo))
            else:
                g.emit(asm.st(size, base, pos - lo, g.imm32()))
        elif r < 0.65 and vs >= 8:
            # a variable offset inside the value
            size = rng.choice([1, 2, 4, 8])
            mask = (1 << (vs - size + 1).bit_length() - 1) - 1 if vs - size + 1 > 1 else 0
            p = g.temp(avoid=(base,))
            v = g.temp(avoid=(base, p))
            g.emit(asm.mov(p, base), asm.mov(v, g.acc()), asm.alu(True, AluOp.AND, v, None, mask))
            g.emit(asm.alu(True, AluOp.ADD, p, v))
            t = g.temp(avoid=(base, p))
            g.emit(asm.ldx(size, t, p, -lo))
            g.define(t)
            g.mix(t)
        else:
            size = rng.choice([s for s in (1, 2, 4, 8) if s <= vs])
            pos = rng.randint(0, vs - size)
            t = g.temp(avoid=(base,))
            g.emit(asm.ldx(size, t, base, pos - lo, size < 8 and rng.random() < 0.2))
            g.define(t)
            g.mix(t)


def frag_map_lookup(g: Gen) -> None:
    """``bpf_map_lookup_elem`` (or the per-CPU variant) with a NULL check, then value access."""
    g.note("map_lookup")
    rng = g.rng
    percpu_elem = rng.random() < 0.15
    m = pick_map(g, "percpu" if percpu_elem else "any")
    if rng.random() < 0.1:
        m = rodata_map(g)
        percpu_elem = False
    _call_with_key(g, m, HELPER_LOOKUP)
    if percpu_elem:
        g.emit(asm.movi(3, rng.choice([0, 0, 1, 2, 1000])))
        g.emit(asm.call_helper(HELPER_LOOKUP_PERCPU))
        g.note("lookup_percpu")
    else:
        g.emit(asm.call_helper(HELPER_LOOKUP))
    null = Label("null")
    g.asm.branch(asm.jcond(False, JmpOp.JEQ, 0, None, 0), null)
    g.frame.reserved.add(0)
    value_access(g, 0, m, 0, rng.randint(1, 4))
    g.frame.reserved.discard(0)
    if rng.random() < 0.5:
        end = Label("end")
        g.asm.branch(asm.ja(), end)
        g.asm.place(null)
        g.emit(asm.alu(True, AluOp.XOR, g.acc(), None, g.imm32() or 1))
        g.asm.place(end)
    else:
        g.asm.place(null)
    g.frame.live.clear()


def frag_map_update(g: Gen, m: MapInfo | None = None, key: int | None = None) -> None:
    g.note("map_update")
    rng = g.rng
    m = m or pick_map(g)
    need = -(-m.value_size // 8) * 8
    if need > g.frame.scratch:  # no room for the value in this frame's scratch area
        frag_map_delete(g, m, key)
        return
    vb = -8 * rng.randint(need // 8, g.frame.scratch // 8)
    for _ in range(rng.randint(0, 2)):
        g.emit(asm.stx(8, FP, g.acc(), vb + rng.randrange(0, need, 8)))
    _call_with_key(g, m, HELPER_UPDATE, key)
    flags = rng.choice([0, 0, 0, 1, 2]) if rng.random() < 0.95 else rng.choice([3, 4, 8])
    g.emit(asm.mov(3, FP), asm.alu(True, AluOp.ADD, 3, None, vb), asm.movi(4, flags))
    g.emit(asm.call_helper(HELPER_UPDATE))
    g.define(0)
    g.mix(0)


def frag_map_delete(g: Gen, m: MapInfo | None = None, key: int | None = None) -> None:
    g.note("map_delete")
    m = m or pick_map(g)
    _call_with_key(g, m, HELPER_DELETE, key)
    g.emit(asm.call_helper(HELPER_DELETE))
    g.define(0)
    g.mix(0)


def frag_map_burst(g: Gen) -> None:
    """Many updates, deletes and lookups on one map, with keys beyond its capacity: full
    hash maps, LRU eviction, BPF_NOEXIST/BPF_EXIST on present and absent keys."""
    g.note("map_burst")
    rng = g.rng
    hashes = [m for m in g.data_maps() if not m.is_array]
    if hashes and rng.random() < 0.7:
        m = rng.choice(hashes)
    elif len(g.maps) < g.config.max_maps and rng.random() < 0.7:
        m = new_data_map(g, ("hash", "lru_hash", "lru_percpu_hash", "percpu_hash"))
    else:
        m = pick_map(g)
    space = m.max_entries + 2 if m.is_array else 2 * m.max_entries + 1
    for _ in range(rng.randint(3, 10)):
        key = rng.randrange(space)
        r = rng.random()
        if r < 0.6:
            frag_map_update(g, m, key)
        elif r < 0.8:
            frag_map_delete(g, m, key)
        else:
            _call_with_key(g, m, HELPER_LOOKUP, key)
            g.emit(asm.call_helper(HELPER_LOOKUP))
            null = Label("miss")
            g.asm.branch(asm.jcond(False, JmpOp.JEQ, 0, None, 0), null)
            t = rng.choice([1, 2, 3, 4, 5])
            g.emit(asm.ldx(1, t, 0, rng.randrange(m.value_size)))
            g.emit(asm.alu(True, AluOp.ADD, g.acc(), t))
            g.asm.place(null)
            g.frame.live.clear()


def frag_map_direct(g: Gen) -> None:
    """``BPF_PSEUDO_MAP_IDX_VALUE``: a map value's address as a constant, no lookup."""
    g.note("map_direct")
    rng = g.rng
    m = rodata_map(g) if rng.random() < 0.3 else direct_map(g)
    if m.role == "rodata":
        g.note("rodata")
    lo = rng.randrange(0, m.value_size, rng.choice([1, 8]))
    p = g.temp()
    g.emit(asm.ld_map_value(p, m.index, lo))
    g.frame.reserved.add(p)
    value_access(g, p, m, lo, rng.randint(1, 4))
    g.frame.reserved.discard(p)
    g.frame.live.discard(p)


def frag_rodata_branch(g: Gen) -> None:
    """A branch on a constant from a frozen read-only map (known to the verifier)."""
    g.note("rodata")
    rng = g.rng
    m = rodata_map(g)
    size = rng.choice([1, 2, 4, 8])
    pos = rng.randint(0, m.value_size - size)
    p = g.temp()
    g.emit(asm.ld_map_value(p, m.index, 0))
    t = g.temp(avoid=(p,))
    g.emit(asm.ldx(size, t, p, pos))
    g.frame.live.discard(p)
    g.define(t)
    skip = Label("ro")
    g.asm.branch(asm.jcond(False, rng.choice([JmpOp.JGT, JmpOp.JLE, JmpOp.JSET, JmpOp.JEQ]), t, None,
                           rng.getrandbits(8)), skip)  # fmt: skip
    g.emit(asm.alu(True, AluOp.ADD, g.acc(), t))
    g.asm.place(skip)
    g.mix(t)
