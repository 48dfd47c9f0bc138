# The two commands of the README: `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck bench examples system-deps bytecode clean accel

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

system-deps:
	@scripts/system-deps.sh

# Bytecode for every module, brought up to date before each run (0.3 s when nothing
# changed): where PYTHONDONTWRITEBYTECODE is set, as in many CI images, Python would
# otherwise compile pybpf's ~300 modules from source in every process (1.9 s of a 3.3 s
# `pybpf verify prog.o` here).
bytecode: $(STAMP)
	@$(BIN)/python -m compileall -q src > /dev/null

run: $(STAMP) system-deps bytecode
	$(BIN)/python examples/run_examples.py

# The suite checks the pure-Python verifier, the reference (PYBPF_PURE=1); the optional
# compiled one is built first (~1-4 min on 2 cores, or nothing when up to date) so that
# tests/verifier/test_accel.py can compare the two on a sample.  A failed build only
# means that comparison skips.
test: $(STAMP) system-deps bytecode
	@nice -n 5 $(BIN)/python tools/build_accel.py || echo "make test: no compiled verifier (its build failed): the comparison skips"
	PYBPF_PURE=1 $(BIN)/python -m pytest -n 2 tests

lint: $(STAMP)
	$(BIN)/ruff check src tests bench examples
	$(BIN)/mypy

# Rebuild the C examples' objects (examples/c/*.o, committed) from their sources.
examples: system-deps
	examples/c/build.sh

# Optional: the verifier's hot modules compiled by mypyc (mypy, in the dev extra, and a
# C compiler), into ~/.cache/pybpf/accel/ or PYBPF_ACCEL_DIR; verification ~2x faster (bench/README.md).
# pybpf uses the build only while the verifier's sources are those it was made from (any
# edit: pure Python again until the next `make accel`); PYBPF_PURE=1 always turns it off.
accel: $(STAMP)
	nice -n 15 $(BIN)/python tools/build_accel.py

bench: $(STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
