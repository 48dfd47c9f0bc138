"""pybpf's verifier against the kernel's: the corpus, the answers, and how they compare.

The corpus is cases (seed, 0) … (seed, count - 1) of the case generator in mistakes mode
(:func:`pybpf.casegen.mistakes_config`): about half of them carry one deliberate error.
Cases are not stored: each is regenerated from (seed, index), and the recorded digest of
what the verifier is given (program type, attach type, instructions, maps) shows when the
generator has drifted from the recording.  ``run`` sections are dropped: only the
verifier's verdict is compared, at log level 1.

An *answer* is what BPF_PROG_LOAD said: accepted or not, errno, the message (the last
line of the log that says why) and the number of instructions processed.  The bar the
project set for pybpf: the verdicts agree on at least 99% of the cases, pybpf accepts
nothing the kernel rejects, and the message agrees on at least 90% of the cases the kernel
rejects.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import hashlib
import io
import json
import re
import signal
import threading
import traceback
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pybpf.casegen import GenConfig, generate_case, mistakes_config

CORPUS = Path(__file__).resolve().parent.parent / "data" / "verifier_diff" / "corpus.jsonl.gz"
FORMAT = "pybpf-verifier-diff"
CORPUS_SEED = 20260202
CORPUS_COUNT = 6000
MISTAKE_RATE = 0.55  # a little over half: a few mistakes are ones root may make
LOG_LEVEL = 1
# pybpf's verifier gets this long per case before it counts as a hang: a base, and more
# for programs the kernel walked longer (pybpf takes well under 1 ms per instruction)
TIMEOUT_BASE_S = 5.0
TIMEOUT_PER_INSN_S = 0.002

BAR_VERDICT = 0.99
BAR_MESSAGE = 0.90

Case = dict[str, Any]


def config() -> GenConfig:
    return mistakes_config(MISTAKE_RATE)


def corpus_case(seed: int, index: int) -> Case:
    """Case ``index`` of the corpus named by ``seed``, as the verifier is given it."""
    case = generate_case(seed, index, config())
    case.pop("run", None)
    return case


def mistake_of(case: Case) -> str:
    """The case's deliberate mistake, or ``valid``."""
    m = case["meta"].get("mistake")
    return str(m["kind"]) if m else "valid"


def digest(case: Case) -> str:
    """A fingerprint of everything the verifier sees of ``case``."""
    seen = {k: case.get(k) for k in ("prog_type", "expected_attach_type", "insns", "maps")}
    return hashlib.sha256(json.dumps(seen, sort_keys=True).encode()).hexdigest()[:16]


# --- answers ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """A verifier's verdict on one case."""

    accepted: bool
    errno: int
    message: str
    insns_processed: int | None

    @classmethod
    def from_result(cls, res: dict[str, Any]) -> Answer:
        return cls(bool(res["accepted"]), int(res["errno"]), str(res["message"] or ""),
                   res.get("insns_processed"))  # fmt: skip


def kernel_answer(case: Case) -> Answer:
    """The running kernel's answer (bpf() must work)."""
    from pybpf import oracle

    return Answer.from_result(oracle.load_case(case, log_level=LOG_LEVEL).to_json())


class VerifierTimeout(Exception):
    pass


@contextlib.contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`VerifierTimeout` in the main thread after ``seconds`` (no limit
    elsewhere, where signals cannot be delivered)."""
    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum: int, frame: object) -> None:
        raise VerifierTimeout(f"no verdict after {seconds:g} s")

    old = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def time_limit(kernel: Answer) -> float:
    """How long pybpf may take on a case the kernel answered ``kernel``."""
    return TIMEOUT_BASE_S + TIMEOUT_PER_INSN_S * (kernel.insns_processed or 0)


def pybpf_answer(case: Case, timeout: float = TIMEOUT_BASE_S) -> Answer | str:
    """pybpf's answer, or a one-line description of how its verifier failed to give one
    (a Python exception, or no verdict within ``timeout`` seconds)."""
    from pybpf.case import Case as ParsedCase
    from pybpf.cli.cmd_verify import verify_case

    try:
        with _time_limit(timeout):
            return Answer.from_result(verify_case(ParsedCase.from_json(case), LOG_LEVEL))
    except VerifierTimeout as exc:
        return f"timeout: {exc}"
    except Exception as exc:  # a crash is a finding, not a test error
        where = traceback.extract_tb(exc.__traceback__)[-1]
        return f"crash: {type(exc).__name__}: {exc} ({Path(where.filename).name}:{where.lineno})"


# --- comparing -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    """The kernel's and pybpf's answers on one case."""

    seed: int
    index: int
    mistake: str
    kernel: Answer
    mine: Answer | str

    @property
    def failed(self) -> str | None:
        """How pybpf failed to answer (crash, timeout), if it did."""
        return self.mine if isinstance(self.mine, str) else None

    @property
    def verdict_agrees(self) -> bool:
        return isinstance(self.mine, Answer) and self.mine.accepted == self.kernel.accepted

    @property
    def false_accept(self) -> bool:
        return isinstance(self.mine, Answer) and self.mine.accepted and not self.kernel.accepted

    @property
    def message_agrees(self) -> bool:
        return isinstance(self.mine, Answer) and self.mine.message == self.kernel.message

    @property
    def category(self) -> str:
        """What kind of disagreement this is ("" when they agree)."""
        if self.failed:
            return self.failed.split(":", 1)[0]
        assert isinstance(self.mine, Answer)
        if self.false_accept:
            return "false accept"
        if not self.verdict_agrees:
            return "false reject"
        if not self.kernel.accepted and not self.message_agrees:
            return "message"
        return ""

    def describe(self) -> str:
        mine = self.mine if isinstance(self.mine, str) else _show(self.mine)
        return (f"{self.seed}/{self.index} [{self.mistake}]: kernel {_show(self.kernel)}; "
                f"pybpf {mine}")  # fmt: skip


def _show(a: Answer) -> str:
    if a.accepted:
        return "accepted"
    return f"errno {a.errno} {a.message!r}"


@dataclass(frozen=True)
class Agreement:
    """The figures the bar is about, over a set of comparisons."""

    cases: int
    rejected: int  # by the kernel
    verdicts: int  # agreeing
    false_accepts: int
    messages: int  # agreeing, among the cases the kernel rejected
    failures: int  # pybpf crashed or timed out

    @classmethod
    def of(cls, comparisons: Sequence[Comparison]) -> Agreement:
        rejected = [c for c in comparisons if not c.kernel.accepted]
        return cls(
            cases=len(comparisons),
            rejected=len(rejected),
            verdicts=sum(c.verdict_agrees for c in comparisons),
            false_accepts=sum(c.false_accept for c in comparisons),
            messages=sum(c.message_agrees for c in rejected),
            failures=sum(c.failed is not None for c in comparisons),
        )

    @property
    def verdict_rate(self) -> float:
        return self.verdicts / self.cases if self.cases else 1.0

    @property
    def message_rate(self) -> float:
        return self.messages / self.rejected if self.rejected else 1.0

    def shortfalls(self) -> list[str]:
        """The parts of the bar not met (empty: pybpf meets it)."""
        out = []
        if self.verdict_rate < BAR_VERDICT:
            out.append(f"verdicts agree on {self.verdict_rate:.2%} < {BAR_VERDICT:.0%}")
        if self.false_accepts:
            out.append(f"{self.false_accepts} false accepts (must be 0)")
        if self.message_rate < BAR_MESSAGE:
            out.append(f"messages agree on {self.message_rate:.2%} of rejected < {BAR_MESSAGE:.0%}")
        return out

    def summary(self) -> str:
        return (
            f"{self.cases} cases, {self.rejected} rejected by the kernel; verdicts agree "
            f"{self.verdicts}/{self.cases} ({self.verdict_rate:.2%}), false accepts "
            f"{self.false_accepts}, messages agree {self.messages}/{self.rejected} "
            f"({self.message_rate:.2%}) of rejected, pybpf crashes/timeouts {self.failures}"
        )


def grouped(comparisons: Iterable[Comparison], by: str) -> dict[str, list[Comparison]]:
    """The disagreements grouped by mistake kind (``by="mistake"``), by the kernel's
    message with numbers blanked (``"message"``) or by category (``"category"``),
    largest group first."""
    groups: dict[str, list[Comparison]] = {}
    for c in comparisons:
        if not c.category:
            continue
        if by == "mistake":
            key = f"{c.mistake} ({c.category})"
        elif by == "message":
            key = f"{message_shape(c.kernel.message) if not c.kernel.accepted else 'accepted'} ({c.category})"
        else:
            key = c.category
        groups.setdefault(key, []).append(c)
    return dict(sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0])))


def message_shape(message: str) -> str:
    """A message with its numbers replaced, so that messages of one check group together."""
    shape = re.sub(r"0x[0-9a-f]+|-?\d+", "N", message)
    return shape if len(shape) <= 100 else shape[:97] + "..."


# --- the recorded corpus -----------------------------------------------------------------------


@dataclass(frozen=True)
class Record:
    """One line of the corpus file: which case, its digest, and the kernel's answer."""

    index: int
    digest: str
    mistake: str
    accepted: bool
    errno: int
    message: str
    insns_processed: int | None

    @property
    def answer(self) -> Answer:
        return Answer(self.accepted, self.errno, self.message, self.insns_processed)


def write_corpus(path: Path, header: dict[str, Any], records: Iterable[Record]) -> int:
    """Write gzip'd JSON lines (header first); returns the file's size."""
    buf = io.BytesIO()
    with (
        gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, compresslevel=9) as raw,
        io.TextIOWrapper(raw, encoding="utf-8") as f,
    ):
        f.write(json.dumps(header, sort_keys=True) + "\n")
        for rec in records:
            f.write(json.dumps(asdict(rec), separators=(",", ":")) + "\n")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buf.getvalue())
    return len(buf.getvalue())


@functools.cache
def read_corpus(path: Path = CORPUS) -> tuple[dict[str, Any], tuple[Record, ...]]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        header = json.loads(f.readline())
        if header.get("format") != FORMAT:
            raise ValueError(f"{path} is not a {FORMAT} file")
        return header, tuple(Record(**json.loads(line)) for line in f)


def compare(seed: int, index: int, case: Case, kernel: Answer) -> Comparison:
    return Comparison(seed, index, mistake_of(case), kernel, pybpf_answer(case, time_limit(kernel)))


def compare_record(seed: int, rec: Record) -> Comparison:
    """Regenerate the record's case, check it is the one recorded, and run pybpf on it."""
    case = corpus_case(seed, rec.index)
    if digest(case) != rec.digest:
        raise AssertionError(
            f"case {seed}/{rec.index} is not the one recorded (the generator changed): "
            "re-record with tests/verifier_diff/record.py"
        )
    return compare(seed, rec.index, case, rec.answer)
