# vae-book: `make book` builds the website (English and Japanese), `make test` runs the
# book as a test suite. Both create the virtual environment in .venv on first use.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
JS := .cache/js
NOTEBOOKS := chapters pages
# Builds and tests draw every slider frame before a cell ends, in parallel (vaelib.widgets);
# a lecturer's kernel (make lab, Binder, Colab) draws them in the background instead.
BUILD_ENV := VAEBOOK_FRAMES=all
# One PDF per language: _build/pdf/vae-book.pdf, then vae-book-<language>.pdf.
PDF_LANGUAGES ?= en ja

# Debian packages: the browser tests' Chromium; XeLaTeX, its fonts and pdftotext for the PDF.
BROWSER_PACKAGES := chromium fonts-noto-cjk
TEX_PACKAGES := texlive-xetex texlive-latex-extra texlive-pictures texlive-fonts-recommended \
	texlive-lang-cjk texlive-lang-chinese latexmk fonts-freefont-otf fonts-dejavu-core \
	fonts-noto-cjk poppler-utils
# npm packages served locally (no CDN at read time): MathJax, require.js and the widget
# manager for the website's browser test, reveal.js for the slides.
JS_PACKAGES := mathjax@3 requirejs@2 @jupyter-widgets/html-manager@1 reveal.js@5
JS_FILES := $(JS)/node_modules/mathjax/es5/tex-chtml-full.js $(JS)/node_modules/requirejs/require.js \
	$(JS)/node_modules/@jupyter-widgets/html-manager/dist/embed-amd.js \
	$(JS)/node_modules/reveal.js/dist/reveal.js

# apt-get install the Debian packages of $(1) that are missing (needs root); fails with a
# reason. Elsewhere (not Debian) it only says what to install.
apt_install = if ! command -v dpkg-query >/dev/null; then \
	  echo "not a Debian system: install the equivalents of $(1) yourself"; exit 0; fi; \
	missing="$$(for p in $(1); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null \
	| grep -q 'ok installed' || echo $$p; done)"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then \
	    echo "missing Debian packages:" $$missing "(install them as root: make $@)"; exit 1; fi; \
	  echo "installing" $$missing; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    --no-install-recommends $$missing >/dev/null; fi

.PHONY: help venv book translations pdf slides test test-unit test-notebooks lab clean page bench \
	browser-deps pdf-deps js-deps test-deps

help:
	@echo "make book          build the website: English in _build/html, Japanese in _build/html/ja"
	@echo "                   (executes the notebooks once, cached; the Japanese build reuses them)"
	@echo "make translations  extract the English text and update the catalogs in locale/ja"
	@echo "make pdf           the book as PDFs: _build/pdf/vae-book.pdf, vae-book-ja.pdf (installs TeX Live: root)"
	@echo "make slides        one reveal.js deck per chapter: _build/slides/NN_topic.slides.html"
	@echo "make test          unit tests + browser tests + every notebook re-executed and compared (nbval)"
	@echo "make lab           JupyterLab at the book root"
	@echo "make bench         the benchmarks in benchmarks/"
	@echo "make browser-deps  Debian's chromium, Japanese fonts and the JavaScript files served locally"
	@echo "make pdf-deps      Debian's XeLaTeX, fonts and pdftotext"
	@echo "make clean         remove _build and caches (keeps .venv)"

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

venv: $(STAMP)

book: $(STAMP)
	rm -rf _build/html  # stale pages of removed files must not survive
	$(BUILD_ENV) $(BIN)/jupyter-book build . --warningiserror --nitpick --keep-going
	@start=$$(date +%s); $(BUILD_ENV) $(BIN)/python _ext/build.py html ja && \
		echo "The Japanese edition took $$(( $$(date +%s) - start )) s more."
	@echo "Open _build/html/index.html (English) or _build/html/ja/index.html (日本語)"

# Extract the English messages and update locale/ja/LC_MESSAGES/*.po (see CONTRIBUTING.md).
translations: $(STAMP)
	$(BIN)/python _ext/translations.py update

# The notebooks' outputs come from the website build's execution cache (_build/.jupyter_cache):
# after `make book` the PDF and the slides execute nothing again.
pdf: $(STAMP) pdf-deps
	for language in $(PDF_LANGUAGES); do \
	  $(BUILD_ENV) $(BIN)/python tools/pdf.py --language $$language || exit 1; done

slides: $(STAMP) js-deps
	$(BUILD_ENV) $(BIN)/python tools/slides.py

test: test-unit test-notebooks

# The browser tests need chromium and the JavaScript copies: installed here when this user
# can (npm for the copies; root with apt-get for chromium), else the tests skip and say why
# (under CI=true they fail).
test-deps: $(STAMP)
	@$(MAKE) --no-print-directory --silent js-deps || echo "could not fetch MathJax/reveal.js from npm: the browser tests will skip"
	@if command -v chromium >/dev/null || command -v chromium-browser >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  $(MAKE) --no-print-directory browser-deps || echo "could not install chromium: the browser tests will skip"; \
	else echo "chromium is missing and only root can install it (make browser-deps): the browser tests will skip"; fi

test-unit: $(STAMP) test-deps
	$(BUILD_ENV) $(BIN)/python -m pytest tests

test-notebooks: $(STAMP)
	$(BUILD_ENV) $(BIN)/python -m pytest --nbval --nbval-current-env --nbval-cell-timeout=300 \
		--nbval-sanitize-with nbval_sanitize.cfg -p no:cacheprovider $(NOTEBOOKS)

# Build a one-chapter book (landing page + NB) into /tmp, to check a chapter alone.
page: $(STAMP)
	@test -n "$(NB)" || { echo "usage: make page NB=chapters/xx.ipynb"; exit 2; }
	printf "format: jb-book\nroot: intro\nchapters:\n  - file: %s\n  - file: pages/bibliography\n" "$(basename $(NB))" > /tmp/toc-$(notdir $(basename $(NB))).yml
	$(BUILD_ENV) $(BIN)/jupyter-book build . --toc /tmp/toc-$(notdir $(basename $(NB))).yml \
		--path-output /tmp/page-$(notdir $(basename $(NB))) --warningiserror --nitpick --keep-going

lab: $(STAMP)
	$(BIN)/jupyter lab --notebook-dir=.

bench: $(STAMP)
	for f in benchmarks/bench_*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

browser-deps: $(STAMP) js-deps
	@$(call apt_install,$(BROWSER_PACKAGES))

pdf-deps:
	@$(call apt_install,$(TEX_PACKAGES))

js-deps: $(JS_FILES)
$(JS_FILES) &:
	@command -v npm >/dev/null || { $(call apt_install,npm); }
	mkdir -p $(JS) && cd $(JS) && npm install --silent --no-audit --no-fund $(JS_PACKAGES) >/dev/null

clean:
	rm -rf _build .pytest_cache .jupyter_cache
	find locale -name "*.mo" -delete  # compiled by the Japanese build
	find . -name __pycache__ -not -path "./$(VENV)/*" -prune -exec rm -rf {} +
