"""What the running kernel says about the converted test_verifier cases, and whether that
is what the 6.1 selftests expect.

:func:`kernel_verdict` loads one case the way test_verifier does (its ``prog_flags`` and
log level, each of its runs) through :func:`pybpf.oracle.load_case`; :func:`judge` holds
the answer against the selftest's privileged expectation and names the difference.  The
answers are stored in ``tests/data/selftests/kernel_verdicts.json`` (they are the
kernel's, not the selftests'), so pybpf's verifier can be compared with them anywhere::

    python -m pybpf.selftests.kernel_verdicts --out tests/data/selftests/kernel_verdicts.json
"""

from __future__ import annotations

import argparse
import enum
import errno as _errno
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import BpfError
from ..oracle import LoadResult, Session, available, load_case, unavailable_reason
from ..oracle.log import summarize_log
from .source import load_source
from .test_verifier import ENOTSUPP, SelftestCase, Verdict, iter_source

LOG_KEEP = 2000
"""Characters of a rejection's log kept in the recorded data (its end, where the reason
is); errstr sequences are matched against the whole log when recording."""


class _FlagSession(Session):
    """A session whose program loads carry test_verifier's ``prog_flags``.

    A case file has no field for them, so :func:`load_case` (which loads through the
    session it is given) gets them from here.
    """

    def __init__(self, prog_flags: int) -> None:
        super().__init__()
        self._prog_flags = prog_flags

    def prog_load(self, *args: Any, **kwargs: Any) -> LoadResult:
        kwargs.setdefault("prog_flags", self._prog_flags)
        return super().prog_load(*args, **kwargs)


@dataclass(frozen=True, slots=True)
class KernelVerdict:
    """The kernel's answer to one case, privileged, as test_verifier would ask it."""

    accepted: bool
    errno: int
    message: str
    insns_processed: int | None
    log: str
    """The log without its statistics lines (the end of it, see :data:`LOG_KEEP`)."""
    errstr_found: bool | None
    """Whether the selftest's ``errstr`` sequence is in the whole log (None: it has none)."""
    retvals: tuple[int | None, ...] = ()
    """Each run's return value where the selftest checks it; None where it does not (a
    pointer, or stack contents a newer kernel lets the program read), or the run failed
    (see ``run_errnos``).  Values nobody checks are not kept: they change from run to run."""
    run_errnos: tuple[int, ...] = ()
    step: str | None = None
    """The loader step that failed before BPF_PROG_LOAD (``map_create``, ...)."""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "accepted": self.accepted,
            "errno": self.errno,
            "message": self.message,
            "insns_processed": self.insns_processed,
        }
        if self.log and self.log != self.message:
            out["log"] = self.log
        if self.errstr_found is not None:
            out["errstr_found"] = self.errstr_found
        if self.retvals:
            out["retvals"] = list(self.retvals)
        if any(self.run_errnos):
            out["run_errnos"] = list(self.run_errnos)
        if self.step is not None:
            out["step"] = self.step
        return out

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> KernelVerdict:
        return cls(
            accepted=bool(d["accepted"]),
            errno=int(d["errno"]),
            message=str(d["message"]),
            insns_processed=d.get("insns_processed"),
            log=str(d.get("log", "" if d["accepted"] else d["message"])),
            errstr_found=d.get("errstr_found"),
            retvals=tuple(d.get("retvals", ())),
            run_errnos=tuple(d.get("run_errnos", ())),
            step=d.get("step"),
        )


def _strip_stats(log: str) -> str:
    stats = set(summarize_log(log).stats)
    lines = [ln for ln in log.splitlines() if ln.strip() and ln.strip() not in stats]
    text = "\n".join(lines)
    return text[-LOG_KEEP:]


def kernel_verdict(sc: SelftestCase) -> KernelVerdict:
    """Load ``sc`` in the running kernel (and run it once per selftest run)."""
    if sc.case is None:
        raise BpfError(_errno.EINVAL, f"{sc.name}: not converted ({sc.skip_reason})")
    case = dict(sc.case)
    runs = sc.runs or ()
    first = dict(case)
    first["run"] = {"data": runs[0].data.hex(), "ctx": None, "repeat": 1} if runs else None
    with _FlagSession(sc.prog_flags) as s:
        res = load_case(first, log_level=sc.log_level, session=s)
    retvals: list[int | None] = []
    errnos: list[int] = []
    exp = sc.expected
    checked = [
        exp.verdict is Verdict.ACCEPT and i < len(exp.retvals) and exp.retvals[i] is not None
        for i in range(len(runs))
    ]
    if res.accepted and res.run is not None:
        retvals.append(res.run.retval if checked[0] and not res.run.errno else None)
        errnos.append(res.run.errno)
        for i, run in enumerate(runs[1:], 1):
            again = dict(case)
            again["run"] = {"data": run.data.hex(), "ctx": None, "repeat": 1}
            with _FlagSession(sc.prog_flags) as s:
                more = load_case(again, log_level=sc.log_level, session=s)
            got = more.run
            ok = got is not None and not got.errno
            retvals.append(got.retval if ok and checked[i] and got is not None else None)
            errnos.append(got.errno if got is not None else _errno.EINVAL)
    errstr = sc.expected.errstr
    return KernelVerdict(
        accepted=res.accepted,
        errno=res.errno,
        message=res.message,
        insns_processed=res.insns_processed,
        log=_strip_stats(res.log) if not res.accepted else "",
        errstr_found=sc.expected.log_matches(res.log) if errstr is not None else None,
        retvals=tuple(retvals),
        run_errnos=tuple(errnos),
        step=res.failed_step.value if res.failed_step is not None else None,
    )


class Outcome(enum.StrEnum):
    """How the kernel's answer compares with the 6.1 selftest's privileged expectation."""

    AGREE = "agree"
    UNSUPPORTED = "unsupported"
    """The kernel answered ENOTSUPP or could not create a map: test_verifier skips."""
    REJECTS_EXPECTED_ACCEPT = "rejects, 6.1 accepted"
    ACCEPTS_EXPECTED_REJECT = "accepts, 6.1 rejected"
    OTHER_MESSAGE = "rejects with another message"
    VERBOSE_LOG = "accepts, log lacks errstr"
    RETVAL = "another return value"
    RUN_FAILED = "run failed"
    INSN_PROCESSED = "another insn_processed"


def judge(sc: SelftestCase, v: KernelVerdict) -> Outcome:
    """test_verifier's privileged verdict on the kernel's answer, as one outcome."""
    exp = sc.expected
    if v.step is not None or (not v.accepted and v.errno == ENOTSUPP):
        return Outcome.UNSUPPORTED
    if exp.verdict is Verdict.ACCEPT:
        if not v.accepted:
            return Outcome.REJECTS_EXPECTED_ACCEPT
        if exp.verbose and not v.errstr_found:
            return Outcome.VERBOSE_LOG
    else:
        if v.accepted:
            return Outcome.ACCEPTS_EXPECTED_REJECT
        if not v.errstr_found:
            return Outcome.OTHER_MESSAGE
    if exp.insn_processed is not None and v.insns_processed != exp.insn_processed:
        return Outcome.INSN_PROCESSED
    if v.accepted and sc.runs_faithful:
        for want, got, err in zip(exp.retvals, v.retvals, v.run_errnos):
            if err and err != ENOTSUPP:
                return Outcome.RUN_FAILED
            if not err and want is not None and got != want:
                return Outcome.RETVAL
    return Outcome.AGREE


# --- the recorded data -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Recording:
    kernel: str
    """``uname -r`` of the kernel that answered."""
    verdicts: Mapping[str, KernelVerdict]


def load_recording(path: str | os.PathLike[str]) -> Recording:
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    return Recording(
        kernel=str(data["kernel"]),
        verdicts={k: KernelVerdict.from_json(v) for k, v in data["verdicts"].items()},
    )


def dump_recording(rec: Recording, source: str) -> str:
    """The recording as JSON text: one case per line, so that a diff shows what changed."""
    head = {
        "kernel": rec.kernel,
        "source": source,
        "about": "the running kernel's answers to Linux 6.1's test_verifier selftests, "
        "converted by pybpf.selftests.test_verifier and loaded privileged with "
        "test_verifier's prog_flags and log level",
    }
    lines = [json.dumps(head)[:-1] + ', "verdicts": {']
    items = sorted(rec.verdicts.items())
    for i, (name, v) in enumerate(items):
        sep = "," if i + 1 < len(items) else ""
        lines.append(f"{json.dumps(name)}: {json.dumps(v.to_json(), sort_keys=True)}{sep}")
    lines.append("}}")
    return "\n".join(lines) + "\n"


def record(cases: Iterable[SelftestCase]) -> dict[str, KernelVerdict]:
    return {sc.name: kernel_verdict(sc) for sc in cases if sc.case is not None}


def agreement(
    cases: Sequence[SelftestCase], verdicts: Mapping[str, KernelVerdict]
) -> Counter[Outcome]:
    """Outcome counts over the converted cases that have a verdict."""
    return Counter(judge(sc, verdicts[sc.name]) for sc in cases if sc.name in verdicts)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m pybpf.selftests.kernel_verdicts",
        description="Record the running kernel's verdicts on the converted test_verifier tests.",
    )
    ap.add_argument("--source", default=None, help="linux-source tarball or kernel tree")
    ap.add_argument("--out", type=Path, required=True, help="the JSON file to write")
    args = ap.parse_args(argv)
    if not available():
        print(f"error: bpf() unavailable: {unavailable_reason()}", file=sys.stderr)
        return 1
    try:
        source = load_source(args.source)
        cases = list(iter_source(source))
    except BpfError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    start = time.monotonic()
    verdicts = record(cases)
    took = time.monotonic() - start
    rec = Recording(os.uname().release, verdicts)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    label = f"linux {source.version}" if source.version else source.origin
    args.out.write_text(dump_recording(rec, label), encoding="utf-8")
    counts = agreement(cases, verdicts)
    summary = {
        "loaded": len(verdicts),
        "seconds": round(took, 1),
        "outcomes": {o.value: n for o, n in counts.most_common()},
    }
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = [
    "KernelVerdict",
    "Outcome",
    "Recording",
    "agreement",
    "dump_recording",
    "judge",
    "kernel_verdict",
    "load_recording",
    "record",
]
