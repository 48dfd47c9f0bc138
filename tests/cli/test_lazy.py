"""The ``pybpf`` command loads a verb's module only when that verb runs.

The top-level listing comes from a registry in ``pybpf.cli.main``; these tests hold it
equal to what the modules themselves register, and check that start-up stays light.
"""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from pybpf.cli.main import VERBS, build_parser, chosen_verb


def _verbs(parser: argparse.ArgumentParser) -> argparse._SubParsersAction[argparse.ArgumentParser]:
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))


def test_registry_matches_the_modules() -> None:
    full = _verbs(build_parser())
    assert [(a.dest, a.help) for a in full._choices_actions] == [(v.name, v.help) for v in VERBS]


def _helps(parser: argparse.ArgumentParser, path: str = "") -> dict[str, str]:
    """Every help text under ``parser``: its own and its subcommands', by path."""
    out = {path: parser.format_help()}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                out.update(_helps(sub, f"{path} {name}"))
    return out


@pytest.mark.parametrize("verb", [v.name for v in VERBS])
def test_help_is_the_same_lazily(verb: str) -> None:
    full = build_parser()
    lazy = build_parser([verb, "--help"])
    assert lazy.format_help() == full.format_help()
    want = {k: v for k, v in _helps(full).items() if k.split()[:1] == [verb]}
    got = {k: v for k, v in _helps(lazy).items() if k.split()[:1] == [verb]}
    assert len(want) >= 1
    assert got == want


def test_chosen_verb() -> None:
    assert chosen_verb(["--version"]) is None
    assert chosen_verb(["-h", "map", "dump", "x"]) == "map"
    assert chosen_verb(["--", "map"]) is None
    assert chosen_verb([]) is None


def _modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys\nprint(' '.join(sys.modules))"],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    return set(out.stdout.split())


def test_version_imports_no_verb() -> None:
    mods = _modules_after(
        "import contextlib, io\nfrom pybpf.cli.main import main\n"
        "with contextlib.redirect_stdout(io.StringIO()): main(['--version'])"
    )
    assert "pybpf.cli.main" in mods
    loaded = {m for m in mods if m.startswith(("pybpf.cli.cmd_", "pybpf.maps", "pybpf.vm"))}
    assert not loaded


def test_map_help_loads_only_cmd_map() -> None:
    mods = _modules_after(
        "import contextlib, io\nfrom pybpf.cli.main import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try: main(['map', '--help'])\n    except SystemExit: pass"
    )
    assert {m for m in mods if m.startswith("pybpf.cli.cmd_")} == {"pybpf.cli.cmd_map"}
    assert not {m for m in mods if m.startswith(("pybpf.maps", "pybpf.kernel", "pybpf.vm"))}


def test_map_create_help_lists_the_types(capsys: pytest.CaptureFixture[str]) -> None:
    from pybpf.cli.main import main

    with pytest.raises(SystemExit):
        main(["map", "create", "--help"])
    out = capsys.readouterr().out
    assert "map type: " in out and "hash" in out and "array" in out


def test_unknown_verb_lists_every_verb(capsys: pytest.CaptureFixture[str]) -> None:
    from pybpf.cli.main import main

    with pytest.raises(SystemExit) as exc:
        main(["nosuch"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "(see pybpf --help)" in err
    for v in VERBS:
        assert repr(v.name) in err
