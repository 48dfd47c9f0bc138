"""The generator's mistakes mode: reproducible, one mistake per mistaken case, every kind
makeable in every program type it claims, and the default mode untouched."""

from __future__ import annotations

import json

import pytest

from pybpf.case import Case
from pybpf.casegen import (
    MISTAKES,
    PROG_TYPES,
    Area,
    GenConfig,
    generate,
    generate_case,
    mistakes_config,
)
from pybpf.isa import decode_hex

from .harness import corpus_case, digest


def test_default_mode_has_no_mistakes() -> None:
    cases = generate(5, 60)
    assert all("mistake" not in c["meta"] for c in cases)
    assert {c["prog_type"] for c in cases} <= set(PROG_TYPES)
    assert GenConfig().mistakes is False and GenConfig().mistake_rate == 0.5


def test_reproducible() -> None:
    cfg = mistakes_config()
    a = generate(11, 40, config=cfg)
    assert a == generate(11, 40, config=cfg)
    assert generate(11, 5, start=17, config=cfg) == a[17:22]
    assert generate_case(11, 9, cfg) == a[9]
    assert corpus_case(11, 9)["insns"] == a[9]["insns"] and digest(corpus_case(11, 9)) == digest(a[9])


@pytest.mark.parametrize("rate", [0.0, 0.5, 1.0])
def test_rate(rate: float) -> None:
    cases = generate(3, 400, config=mistakes_config(rate))
    mistaken = sum(c["meta"]["mistake"] is not None for c in cases)
    assert abs(mistaken - rate * len(cases)) <= 0.07 * len(cases)


def test_every_kind_in_every_type_it_claims() -> None:
    """Each kind, restricted to itself, makes well-formed cases of the types it names,
    and names itself (and nothing else) in ``meta``."""
    for m in MISTAKES:
        for prog_type in sorted(m.types):
            cfg = mistakes_config(1.0, mistake_kinds=(m.kind,), prog_types=(prog_type,))
            for case in generate(21, 3, config=cfg):
                assert case["meta"]["mistake"] == {"kind": m.kind, "area": str(m.area)}
                assert case["prog_type"] == prog_type
                assert sum(f.startswith("mistake:") for f in case["meta"]["fragments"]) == 1
                parsed = Case.from_json(json.loads(json.dumps(case)))
                assert decode_hex(case["insns"]) == list(parsed.insns)


def test_areas_cover_the_verifier_issue() -> None:
    assert {m.area for m in MISTAKES} == set(Area)
    assert len({m.kind for m in MISTAKES}) == len(MISTAKES)
    assert {"rodata_dead_code", "uninit_stack_read", "div_by_zero_reg"} <= {
        m.kind for m in MISTAKES if not m.rejects
    }
