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

# The main job: the overhead report for the papers' two setups from the embedded default calibration.
demo: install
	$(VENV)/bin/astraea-cost report --out $(DEMO_OUT)/report
	@echo "open $(DEMO_OUT)/report/report.md"

test: install
	$(PY) -m pytest

bench: install
	$(PY) -m pytest benchmarks --benchmark-enable --benchmark-only

clean:
	rm -rf $(VENV) $(DEMO_OUT) .pytest_cache .benchmarks
