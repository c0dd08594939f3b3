# The two commands a newcomer needs: `make demo` (set up, build the index, answer a question)
# and `make test` (the whole suite, as CI runs it). Everything installs into .venv.
VENV ?= .venv
PY := $(VENV)/bin/python
QUESTION ?= How should a 20-person startup organise its machine learning team?

.PHONY: setup demo test lint bench clean

setup: $(VENV)/.installed

# torch is installed first and pinned: the CPU build lies on disk on our machines, and an
# unpinned torch would pull the multi-GB CUDA build.
$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

demo: setup
	$(VENV)/bin/mlbot index build
	$(VENV)/bin/mlbot ask "$(QUESTION)"

test: setup
	$(PY) -m pytest

lint: setup
	$(VENV)/bin/ruff check bot index knowledge tests bench
	$(VENV)/bin/mypy bot index knowledge

bench: setup
	$(PY) -m bench

clean:
	rm -rf .mlbot .pytest_cache
