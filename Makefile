# vae-book: `make book` builds the website (English and Japanese), `make test` runs the
# book as a test suite. Both create the virtual environment in .venv on first use.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
JS := .cache/js
NOTEBOOKS := chapters pages

.PHONY: help venv book translations test test-unit test-notebooks lab clean page bench browser-deps

help:
	@echo "make book          build the website: English in _build/html, Japanese in _build/html/ja"
	@echo "                   (executes the notebooks once, cached; the Japanese build reuses them)"
	@echo "make translations  extract the English text and update the catalogs in locale/ja"
	@echo "make test          unit tests + browser test + every notebook re-executed and compared (nbval)"
	@echo "make lab           JupyterLab at the book root"
	@echo "make bench         the benchmarks in benchmarks/"
	@echo "make browser-deps  Debian's chromium, Japanese fonts and the JavaScript files the browser test serves"
	@echo "make clean         remove _build and caches (keeps .venv)"

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

venv: $(STAMP)

book: $(STAMP)
	rm -rf _build/html  # stale pages of removed files must not survive
	$(BIN)/jupyter-book build . --warningiserror --nitpick --keep-going
	@start=$$(date +%s); $(BIN)/python _ext/build.py html ja && \
		echo "The Japanese edition took $$(( $$(date +%s) - start )) s more."
	@echo "Open _build/html/index.html (English) or _build/html/ja/index.html (日本語)"

# Extract the English messages and update locale/ja/LC_MESSAGES/*.po (see CONTRIBUTING.md).
translations: $(STAMP)
	$(BIN)/python _ext/translations.py update

test: test-unit test-notebooks

test-unit: $(STAMP)
	$(BIN)/python -m pytest tests

test-notebooks: $(STAMP)
	$(BIN)/python -m pytest --nbval --nbval-current-env --nbval-cell-timeout=300 \
		--nbval-sanitize-with nbval_sanitize.cfg -p no:cacheprovider $(NOTEBOOKS)

# Build a one-chapter book (landing page + NB) into /tmp, to check a chapter alone.
page: $(STAMP)
	@test -n "$(NB)" || { echo "usage: make page NB=chapters/xx.ipynb"; exit 2; }
	printf "format: jb-book\nroot: intro\nchapters:\n  - file: %s\n  - file: pages/bibliography\n" "$(basename $(NB))" > /tmp/toc-$(notdir $(basename $(NB))).yml
	$(BIN)/jupyter-book build . --toc /tmp/toc-$(notdir $(basename $(NB))).yml \
		--path-output /tmp/page-$(notdir $(basename $(NB))) --warningiserror --nitpick --keep-going

lab: $(STAMP)
	$(BIN)/jupyter lab --notebook-dir=.

bench: $(STAMP)
	for f in benchmarks/bench_*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

browser-deps: $(STAMP)
	command -v chromium >/dev/null && fc-list :lang=ja | grep -q . || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; }
	test -f $(JS)/node_modules/mathjax/es5/tex-mml-chtml.js || { mkdir -p $(JS) && cd $(JS) && \
		npm install --silent --no-audit --no-fund mathjax@3 requirejs@2 @jupyter-widgets/html-manager@1 >/dev/null; }

clean:
	rm -rf _build .pytest_cache .jupyter_cache
	find locale -name "*.mo" -delete  # compiled by the Japanese build
	find . -name __pycache__ -not -path "./$(VENV)/*" -prune -exec rm -rf {} +
