# Two commands set everything up on a fresh machine and run:
#   make demo   - create .venv if missing, then run the main job (`modelpred demo`)
#   make test   - create .venv if missing, then run the test suite
#   make docs   - build the documentation site offline into docs/_build/html (warnings are
#                 errors; the tutorials in examples/ run), installing the docs extra if missing,
#                 then open it in headless Chromium (Debian package `chromium`) and check it
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test docs lint check figures bench bench-peers bench-dattri clean

$(BIN)/modelpred: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install torch==2.13.0
	$(BIN)/python -m pip install -e '.[dev]'
	touch $(BIN)/modelpred

demo: $(BIN)/modelpred
	$(BIN)/modelpred demo

test: $(BIN)/modelpred
	HYPOTHESIS_PROFILE=ci $(BIN)/python -m pytest -q -p no:cacheprovider

DOCS_IMPORTS := import sphinx, sphinx_gallery, pydata_sphinx_theme, numpydoc, myst_parser

docs: $(BIN)/modelpred
	$(BIN)/python -c "$(DOCS_IMPORTS)" 2>/dev/null || $(BIN)/python -m pip install -e '.[dev,docs]'
	MPLBACKEND=Agg TQDM_DISABLE=1 $(BIN)/python -m sphinx -b html -W --keep-going docs docs/_build/html
	$(BIN)/python docs/_ext/check_offline.py docs/_build/html
	$(BIN)/python docs/_ext/check_browser.py docs/_build/html
	$(BIN)/python docs/_ext/gallery_times.py docs/auto_examples

lint: $(BIN)/modelpred
	$(BIN)/ruff check .

# Side-by-side with pyDVL in an environment of its own (pyDVL pins numpy < 2): creates
# .venv-peers, never touches .venv. A benchmark, not a test.
PEERS := .venv-peers
PEERS_DATA := .cache/peers

bench-peers: $(BIN)/modelpred
	test -x $(PEERS)/bin/python || $(PYTHON) -m venv $(PEERS)
	$(PEERS)/bin/python -m pip install "pydvl==0.10.0" "numpy<2" scikit-learn
	$(BIN)/python bench/peers/ours.py export --data $(PEERS_DATA)
	$(PEERS)/bin/python bench/peers/pydvl_side.py --data $(PEERS_DATA)
	$(BIN)/python bench/peers/ours.py compare --data $(PEERS_DATA)

# dattri 0.3.0 as a client, in an environment of its own beside the CPU torch (.venv-dattri;
# never touches .venv): its explicit influence and TRAK on our fitted models, and its LDS on our
# exact ground truth. A benchmark, not a test.
DATTRI := .venv-dattri
DATTRI_DATA := .cache/dattri

bench-dattri: $(BIN)/modelpred
	test -x $(DATTRI)/bin/python || $(PYTHON) -m venv $(DATTRI)
	$(DATTRI)/bin/python -c "import dattri" 2>/dev/null || ( $(DATTRI)/bin/pip install torch==2.13.0 && $(DATTRI)/bin/pip install dattri==0.3.0 scikit-learn )
	$(BIN)/python bench/peers/dattri_ours.py export --data $(DATTRI_DATA)
	TQDM_DISABLE=1 $(DATTRI)/bin/python bench/peers/dattri_side.py --data $(DATTRI_DATA)
	$(BIN)/python bench/peers/dattri_ours.py compare --data $(DATTRI_DATA)

check: $(BIN)/modelpred
	$(BIN)/modelpred check

clean:
	rm -rf $(VENV) .cache docs/_build docs/auto_examples docs/gen_modules
