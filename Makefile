# The two set-up commands of the README: `make serve` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed

serve: install
	$(VENV)/bin/crawlplane serve

test: install
	$(VENV)/bin/ruff check engine control_api tests bench
	$(VENV)/bin/mypy
	$(PY) -m pytest -n 2

.PHONY: install serve test
