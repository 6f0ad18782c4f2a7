# Two entry points for a fresh machine: `make demo` and `make test`.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: demo test bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.demo: $(BIN)/python pyproject.toml
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.test: $(VENV)/.demo
	$(BIN)/pip install -q -e '.[test,spark]'
	touch $@

demo: $(VENV)/.demo
	$(BIN)/veil demo --workspace veil-demo --overwrite

test: $(VENV)/.test
	$(BIN)/ruff check src tests bench
	$(BIN)/python -m pytest -q

$(VENV)/.bench: $(VENV)/.test
	$(BIN)/pip install -q -e '.[test,bench]'
	touch $@

bench: $(VENV)/.bench
	$(BIN)/python -m bench storage
	$(BIN)/python -m bench discover
	$(BIN)/python -m bench anonymize
	$(BIN)/python -m bench dp_query
	$(BIN)/python -m bench dp_train
	$(BIN)/python -m bench federated
	$(BIN)/python -m bench crypto_compute
	$(BIN)/python -m bench attacks

clean:
	rm -rf $(VENV) veil-demo veil-demo-sites veil-demo.key
