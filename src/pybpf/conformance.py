"""Runs bpf_conformance data files: assemble, check, run, compare r0.

A file passes when its program assembles, passes the structural checks and returns the
``-- result`` value, or, when it states an ``-- error``, when pybpf refuses it with a
message starting with that text (an empty ``-- error`` means "must be refused").

Files of the ``negative`` directory must be refused whatever they state (their results
are placeholders); two of them are wrong on purpose and fail under any correct runtime
(``error``, ``incorrect_return_value_high_bits``), and ``unused-exit-offset`` is accepted
by Linux (its ``exit`` check ignores the offset), so pybpf accepts it too.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from .errors import BpfError
from .isa import assemble_conformance, check_program, decode
from .isa.insn import Insn
from .kernel.state import Kernel
from .memory import MEMORY, RegionKind, allocate
from .vm.executable import Executable
from .vm.interpreter import Interpreter

SKIPPED_SECTIONS = {"c", "no register offset"}
KNOWN_SECTIONS = {"asm", "raw", "mem", "result", "error"} | SKIPPED_SECTIONS


class Outcome(Enum):
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class ConformanceCase:
    name: str
    asm: str | None
    raw: list[str] | None
    mem: bytes
    result: int | None
    error: str | None


@dataclass(frozen=True)
class CaseResult:
    name: str
    outcome: Outcome
    detail: str


def parse(path: Path) -> ConformanceCase | None:
    """The file's sections, or None where the upstream parser would skip the file."""
    sections: dict[str, list[str]] = {}
    current: str | None = None
    for raw_line in path.read_text(errors="replace").splitlines():
        line = raw_line.rstrip("\r").split("#", 1)[0]
        if "--" in line:
            current = line.split("--", 1)[1].strip()
            if current not in KNOWN_SECTIONS:
                return None
            sections.setdefault(current, [])
            continue
        if current is None or not line.strip():
            continue
        sections[current].append(line.strip())
    if "result" not in sections and "error" not in sections:
        return None
    result = None
    if sections.get("result"):
        text = sections["result"][-1]
        result = int(text, 16) if "0x" in text.lower() else int(text)
        result &= (1 << 64) - 1
    error = None
    if "error" in sections:
        error = sections["error"][-1] if sections["error"] else ""
    mem = bytes.fromhex(" ".join(sections.get("mem", [])))
    return ConformanceCase(
        name=path.stem,
        asm="\n".join(sections["asm"]) if "asm" in sections else None,
        raw=sections.get("raw") or None,
        mem=mem,
        result=result,
        error=error,
    )


def _decode_raw(lines: list[str]) -> list[Insn]:
    if all(tok.lower().startswith("0x") for line in lines for tok in line.split()):
        data = b"".join(int(tok, 16).to_bytes(8, "little") for line in lines for tok in line.split())
    else:
        data = bytes.fromhex("".join(lines))
    return decode(data)


def run_case(case: ConformanceCase, interp: Interpreter, negative: bool = False) -> CaseResult:
    try:
        insns = _decode_raw(case.raw) if case.raw else assemble_conformance(case.asm or "")
        check_program(insns, allow_callx=True)
        exe = Executable(insns, case.name)
        buf = allocate(max(len(case.mem), 1), RegionKind.MEM, "conformance input", True, case.mem)
        try:
            r0 = interp.run(exe, buf.base, len(case.mem))
        finally:
            MEMORY.remove(buf)
            MEMORY.remove(exe.code_region)
    except BpfError as exc:
        expected = case.error if case.error is not None else ("" if negative else None)
        if expected is not None and str(exc).split(": ", 1)[-1].startswith(expected):
            return CaseResult(case.name, Outcome.PASSED, f"refused: {exc}")
        return CaseResult(case.name, Outcome.FAILED, f"error: {exc}")
    if negative:
        return CaseResult(case.name, Outcome.FAILED, f"ran (r0=0x{r0:x}) but must be refused")
    if case.error is not None:
        return CaseResult(case.name, Outcome.FAILED, f"expected an error ({case.error!r}), got r0=0x{r0:x}")
    if r0 != case.result:
        return CaseResult(case.name, Outcome.FAILED, f"r0=0x{r0:x}, expected 0x{case.result:x}")
    return CaseResult(case.name, Outcome.PASSED, f"r0=0x{r0:x}")


def run_files(
    paths: Iterable[Path], kernel: Kernel | None = None, negative: bool = False
) -> list[CaseResult]:
    interp = Interpreter(kernel or Kernel(seed=0))
    results = []
    for path in sorted(paths):
        case = parse(path)
        if case is None:
            results.append(CaseResult(path.stem, Outcome.SKIPPED, "no result or error section"))
            continue
        results.append(run_case(case, interp, negative))
    return results


def run_directory(directory: Path, negative: bool | None = None) -> list[CaseResult]:
    """Every ``*.data`` file directly in ``directory`` (not its subdirectories).

    ``negative`` defaults to whether the directory is named ``negative``.
    """
    if negative is None:
        negative = directory.name == "negative"
    return run_files(directory.glob("*.data"), negative=negative)


def summary(results: list[CaseResult]) -> str:
    passed = sum(r.outcome is Outcome.PASSED for r in results)
    failed = sum(r.outcome is Outcome.FAILED for r in results)
    skipped = sum(r.outcome is Outcome.SKIPPED for r in results)
    text = f"{passed} passed, {failed} failed"
    return text + (f", {skipped} skipped" if skipped else "")
