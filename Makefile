# Quick start: `make demo` and `make test`. Both create the virtual environment on first use.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
DEMO_OUT ?= demo-output

.PHONY: demo test bench install clean calibration

$(VENV)/.installed: pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --disable-pip-version-check -c constraints.txt -e '.[reference,test]'
	touch $@

install: $(VENV)/.installed

demo: install
	$(VENV)/bin/astraea-cost run --algorithm astraea --dataset digits --clients 20 --clients-per-round 10 \
		--gamma 5 --rounds 3 --out $(DEMO_OUT)/run

test: install
	$(PY) -m pytest

bench: install
	$(PY) -m pytest benchmarks --benchmark-enable --benchmark-only

clean:
	rm -rf $(VENV) $(DEMO_OUT) .pytest_cache .benchmarks
