"""Whole cases: a program (prologue, fragments, epilogue, subprograms), its maps and a
run input, as case-file dicts (``/work/shared/spec/case-format.md``)."""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from typing import Any

from ..isa.insn import encode_hex
from . import asm, mistakes, packets, registry
from .frag_arith import fold_epilogue
from .frag_net import load_ctx
from .gen import CTX, FP, Frame, Gen, MapInfo
from .registry import Category

GENERATOR_VERSION = 1
PROG_TYPES = ("socket_filter", "sched_cls", "sched_act", "xdp")

MAIN_SCRATCH = 128
MAIN_TIME_SLOT = -136
MAIN_KEY_BUF = -152


@dataclass(frozen=True)
class GenConfig:
    """Knobs of the generator.  The defaults make programs the verifier accepts."""

    prog_types: tuple[str, ...] = PROG_TYPES
    categories: tuple[str, ...] = tuple(Category)
    fragments: tuple[registry.Fragment, ...] = registry.FRAGMENTS
    min_fragments: int = 3
    max_fragments: int = 10
    primary_weight: float = 8.0
    max_call_depth: int = 3
    max_subprogs: int = 4
    max_maps: int = 5
    ctx_probability: float = 0.3
    repeat_probability: float = 0.15
    out_map_probability: float = 0.5
    # mistakes mode (see .mistakes and mistakes_config()): a share of the cases get one
    # deliberate error; ``mistake_kinds`` limits the kinds (empty: all of them)
    mistakes: bool = False
    mistake_rate: float = 0.5
    mistake_kinds: tuple[str, ...] = ()


def case_rng(seed: int, index: int) -> random.Random:
    """The random source of case ``index`` of corpus ``seed`` (independent of the others)."""
    digest = hashlib.sha256(f"pybpf.casegen/{seed}/{index}".encode()).digest()
    return random.Random(int.from_bytes(digest[:16], "little"))


def generate(seed: int, count: int, start: int = 0, config: GenConfig | None = None) -> list[dict[str, Any]]:
    """Cases ``start`` … ``start + count - 1`` of the corpus named by ``seed``.

    Case *i* depends only on (seed, i, config), so any case can be regenerated alone.
    Categories take turns (case *i* has category *i* modulo their number) so that every
    corpus covers all of them.
    """
    cfg = config or GenConfig()
    return [generate_case(seed, i, cfg) for i in range(start, start + count)]


def generate_case(seed: int, index: int, config: GenConfig | None = None) -> dict[str, Any]:
    cfg = config or GenConfig()
    rng = case_rng(seed, index)
    category = cfg.categories[index % len(cfg.categories)]
    types = [t for t in cfg.prog_types if category in registry.categories_for(t, cfg.fragments)]
    mistake = mistakes.choose(seed, index, cfg) if cfg.mistakes else None
    if mistake is not None:
        types = mistakes.prog_types_for(mistake, types, cfg.prog_types)
    prog_type = rng.choice(types or list(cfg.prog_types))
    body = registry.body if mistake is None else mistakes.injecting_body(mistake)
    g = Gen(rng, prog_type, cfg, body, category)
    insns = _program(g, rng.randint(cfg.min_fragments, cfg.max_fragments), mistake)
    data = packets.random_frame(rng)
    ctx = None
    if rng.random() < cfg.ctx_probability:
        if g.is_xdp:
            ctx = packets.xdp_ctx(rng, len(data))
        else:
            skb_len = len(data) - (packets.ETH_HLEN if prog_type == "socket_filter" else 0)
            ctx = packets.skb_ctx(rng, skb_len)
    repeat = rng.randint(2, 5) if rng.random() < cfg.repeat_probability else 1
    case: dict[str, Any] = {
        "name": f"casegen {seed}/{index} {category}",
        "prog_type": prog_type,
        "expected_attach_type": None,
        "insns": encode_hex(insns),
        "maps": [m.to_json() for m in g.maps],
        "run": {"data": data.hex(), "ctx": ctx.hex() if ctx is not None else None, "repeat": repeat},
        "meta": {
            "generator": "pybpf.casegen", "version": GENERATOR_VERSION, "seed": seed,
            "index": index, "category": str(category), "features": sorted(g.features),
            "fragments": g.fragments,
        },
    }  # fmt: skip
    if cfg.mistakes:
        case["meta"]["mistake"] = mistake.describe() if mistake is not None else None
        if mistake is not None:
            case["name"] += f" mistake:{mistake.kind}"
    return case


def _program(g: Gen, fragments: int, mistake: mistakes.Mistake | None = None) -> list[Any]:
    rng = g.rng
    g.frame = Frame(0, True, MAIN_SCRATCH, MAIN_KEY_BUF, MAIN_TIME_SLOT)
    g.emit(asm.mov(CTX, 1))
    # the scratch stack: every byte initialised, so any aligned load is allowed
    for k in range(1, MAIN_SCRATCH // 8 + 1):
        if rng.random() < 0.25:
            g.emit(asm.ld64(2, g.imm64()), asm.stx(8, FP, 2, -8 * k))
        else:
            g.emit(asm.st(8, FP, -8 * k, g.imm32()))
    for acc in (7, 8, 9):
        r = rng.random()
        if r < 0.35:
            load_ctx(g, acc)
        elif r < 0.6:
            g.emit(asm.ld64(acc, g.imm64()))
        else:
            g.emit(asm.movi(acc, g.imm32()))
    for t in (0, 2, 3, 4, 5):
        if rng.random() < 0.4:
            g.emit(asm.movi(t, g.imm32()))
            g.define(t)
    g.body("main", fragments)
    if rng.random() < g.config.out_map_probability:
        _store_results(g)
    fold_epilogue(g)
    if mistake is not None:
        mistakes.at_end(g, mistake)
    insns = asm.link([g.asm] + [s.asm for s in g.subprogs])
    if mistake is not None:
        mistakes.after_link(g, mistake, insns)
    return insns


def _store_results(g: Gen) -> None:
    """Write the accumulators to a result map, so that the map dump shows all 64 bits."""
    g.clobber([1])
    out = g.add_map(MapInfo(0, "array", 4, 32, 1, role="out"))
    g.emit(asm.ld_map_value(1, out.index, 0))
    for i, acc in enumerate((7, 8, 9)):
        g.emit(asm.stx(8, 1, acc, 8 * i))
