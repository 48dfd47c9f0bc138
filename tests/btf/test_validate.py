"""Validation agrees with the kernel: verdict, errno, last log line and the whole log."""

from __future__ import annotations

import errno
import os

import pytest

from pybpf.btf.validate import BtfRejected, check
from pybpf.oracle import available, btf_load, unavailable_reason

from . import kernel_verdicts
from .validation_cases import CASES

RECORDED = kernel_verdicts.load()


def ours(raw: bytes) -> tuple[int, str]:
    try:
        return 0, check(raw).log
    except BtfRejected as exc:
        assert exc.message == kernel_verdicts.last_line(exc.log) or not exc.log
        return exc.errno, exc.log


def test_corpus_is_stable() -> None:
    """The generator still makes the blobs the kernel was asked about."""
    blobs = dict(kernel_verdicts.corpus())
    assert len(blobs) == len(RECORDED)
    for rec in RECORDED:
        assert kernel_verdicts.digest(blobs[str(rec["name"])]) == rec["blob"], rec["name"]


def test_agrees_with_recorded_kernel_verdicts() -> None:
    blobs = dict(kernel_verdicts.corpus())
    wrong = []
    for rec in RECORDED:
        err, log = ours(blobs[str(rec["name"])])
        got = (err, kernel_verdicts.last_line(log), kernel_verdicts.digest(log))
        if got != (rec["errno"], rec["last_line"], rec["log"]):
            wrong.append((rec["name"], got, rec))
    assert not wrong, wrong[:3]


def test_type_tags_must_precede_modifiers() -> None:
    """The rule from the kptr review: a chain may not put a type tag after const & co."""
    check(CASES["tag_then_const_ok"]())
    check(CASES["two_tags_then_volatile_ok"]())
    for bad in ("const_then_tag_bad", "typedef_then_tag_bad", "tag_const_tag_bad"):
        with pytest.raises(BtfRejected) as exc:
            check(CASES[bad]())
        assert exc.value.errno == errno.EINVAL
        assert exc.value.message == "Type tags don't precede modifiers"


def test_log_level_zero_has_no_log() -> None:
    with pytest.raises(BtfRejected) as exc:
        check(CASES["modifier_cycle"](), log_level=0)
    assert exc.value.errno == errno.EEXIST and exc.value.log == ""


@pytest.mark.kernel
@pytest.mark.skipif(not available(), reason=f"bpf() unavailable: {unavailable_reason()}")
@pytest.mark.parametrize("name", sorted(CASES))
def test_live_kernel_agrees(name: str) -> None:
    raw = CASES[name]()
    res = btf_load(raw)
    if res.fd is not None:
        os.close(res.fd)
    assert ours(raw) == (res.errno, res.log)
