# opskb: `make html` builds the site, `make test` builds it and runs every test.
# Both create .venv and install the pins of pyproject.toml first; nothing else is needed.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PELICAN := $(PY) -m pelican
INPUTDIR := content
OUTPUTDIR := output
CONFFILE := pelicanconf.py
PUBLISHCONF := publishconf.py
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: html test publish serve devserver clean lint bench lab venv

# The stamp is remade whenever the pins change, so `make` never runs against stale packages.
$(VENV)/.installed: pyproject.toml tools/deps.py
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "opskb needs Python 3.11 or newer")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m tools.deps --extra test > $(VENV)/requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r $(VENV)/requirements.txt
	touch $@

venv: $(VENV)/.installed

# tools.site builds into a scratch directory and swaps it in, so a failed build never leaves a
# half-written output/ that looks complete.
html: $(VENV)/.installed
	$(PY) -m tools.site build -o $(OUTPUTDIR)

publish: $(VENV)/.installed
	$(PY) -m tools.site build --publish -o $(OUTPUTDIR)

test: html
	$(PY) -m pytest

# The window-scale lab on this machine's kernel (needs root): the default scenarios, a box that
# zeroes only large shifts, and the route-window workaround; refreshes content/lab/.
lab: $(VENV)/.installed
	$(PY) -m tools.wscale_lab run --out content/lab --trim 100 \
		--scenarios default,rewrite-above-7,small-rmem+rewrite-above-7,route-window,route-window+rewrite

# Every benchmark runs its baseline in the same run and prints the ratio (bench/*.py).
bench: $(VENV)/.installed
	@for script in bench/*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

lint: $(VENV)/.installed
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

serve: $(VENV)/.installed
	$(PY) -m http.server $(PORT) --bind $(HOST) --directory $(OUTPUTDIR)

# Build, serve on $(HOST):$(PORT), rebuild on every change under content/ theme/ plugins/
# tools/ and reload the open pages (Server-Sent Events on /__livereload).
devserver: $(VENV)/.installed
	$(PY) -m tools.site devserver --host $(HOST) --port $(PORT) -o $(OUTPUTDIR)

clean:
	rm -rf $(OUTPUTDIR) $(OUTPUTDIR).tmp .cache .pytest_cache
