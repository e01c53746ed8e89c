# Two commands: `make run` and `make test`. Everything else is what they need.
PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
export UV_PROJECT_ENVIRONMENT := $(CURDIR)/$(VENV)
export UV_PYTHON_DOWNLOADS := never

.PHONY: run test check lint typecheck install compile bench schema clean

run: install compile  ## install, migrate ./var/parley.db, create a demo exercise, print its seats, serve
	$(BIN)/parley db upgrade
	$(BIN)/parley exercise start tutorial
	$(BIN)/parley organiser create --name demo
	$(BIN)/parley serve

test: check compile  ## lint, type-check and run the whole suite (SQLite, and PostgreSQL when reachable)
	@$(BIN)/pytest $(PYTEST_ARGS); status=$$?; \
	if [ $$status -eq 5 ]; then echo "make test: pytest collected no tests; that is a failure" >&2; exit 1; fi; \
	exit $$status

check: lint typecheck

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

install: $(VENV)/.installed

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# Byte-compiled at install: with PYTHONDONTWRITEBYTECODE set (many images set it) nothing is ever
# cached, and every `parley` verb and server start would compile its imports again (~1.7 s).
$(VENV)/.installed: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --compile-bytecode --python $(PYTHON)
	@touch $@

# Our own sources change between runs; compileall rewrites only the stale ones (~0.1 s when none).
compile: install
	@$(BIN)/python -m compileall -q -j0 server client protocol migrations bench tests

bench: install  ## run the benchmarks (figures go to docs/benchmarks.md by hand)
	$(BIN)/python -m bench.append
	$(BIN)/python -m bench.fanout

schema: install  ## regenerate protocol/schema/ and docs/permissions.md from the code
	$(BIN)/python -c "from pathlib import Path; from protocol.schema import render_schemas; \
	[Path('protocol/schema', n).write_text(t) for n, t in render_schemas().items()]"
	$(BIN)/python -c "from pathlib import Path; from server.domain.permissions_doc import render; \
	Path('docs/permissions.md').write_text(render())"

clean:
	rm -rf $(VENV) $(TOOLS) .pytest_cache .mypy_cache .ruff_cache
