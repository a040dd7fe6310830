# Two commands set everything up on a fresh machine and run:
#   make demo   - create .venv if missing, then run the main job (`modelpred demo`)
#   make test   - create .venv if missing, then run the test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint check figures bench clean

$(BIN)/modelpred: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install torch==2.13.0
	$(BIN)/python -m pip install -e '.[dev]'
	touch $(BIN)/modelpred

demo: $(BIN)/modelpred
	$(BIN)/modelpred demo

test: $(BIN)/modelpred
	HYPOTHESIS_PROFILE=ci $(BIN)/python -m pytest -q -p no:cacheprovider

lint: $(BIN)/modelpred
	$(BIN)/ruff check .

check: $(BIN)/modelpred
	$(BIN)/modelpred check

clean:
	rm -rf $(VENV) .cache
