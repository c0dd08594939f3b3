# The two commands a newcomer needs: `make demo` (set up, build the index, answer a question)
# and `make test` (the whole suite, as CI runs it). Everything installs into .venv.
VENV ?= .venv
PY := $(VENV)/bin/python
QUESTION ?= How should a 20-person startup organise its machine learning team?

.PHONY: setup demo test lint bench eval-devdocs clean

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

# Retrieval and answers with no hints: the three development documents of ../shared/dev-docs
# beside the article without its hints file (issue 12's setting), in a folder of their own.
DEVDOCS ?= ../shared/dev-docs
DEVKB := .mlbot/devdocs/knowledge
eval-devdocs: setup
	rm -rf $(DEVKB) && mkdir -p $(DEVKB)
	cp knowledge/articles/ml-for-leaders.md $(DEVKB)/
	for d in $(DEVDOCS)/*/; do cp "$$d/doc.md" "$(DEVKB)/$$(basename $$d).md"; done
	KNOWLEDGE_DIR=$(DEVKB) DATA_DIR=.mlbot/devdocs $(VENV)/bin/mlbot eval \
		--set knowledge/eval/devdocs_questions.yaml --set knowledge/eval/questions.yaml \
		--set knowledge/eval/answer_questions.yaml

clean:
	rm -rf .mlbot .pytest_cache
