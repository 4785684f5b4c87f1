# Quick start: `make demo` and `make test`. Both create the virtual environment on first use.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
DEMO_OUT ?= demo-output

.PHONY: demo test bench install clean calibration

$(VENV)/.installed: pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --disable-pip-version-check -c constraints.txt -e '.[reference,flower,test]'
	touch $@

install: $(VENV)/.installed

# The main job: the overhead report for the papers' two setups from the embedded default calibration.
demo: install
	$(VENV)/bin/astraea-cost report --out $(DEMO_OUT)/report
	@echo "open $(DEMO_OUT)/report/report.md"

test: install
	$(PY) -m pytest

# Regenerate the embedded default calibration on this machine: measure links (as root; skipped
# otherwise, keeping the current link coefficients), profile the sweep, fit, validate on held-out runs,
# validate over shaped links (as root), and print the new figures into README.md and docs/.
CAL_DIR ?= calibration-work
calibration: install
	mkdir -p $(CAL_DIR)
	if [ "$$(id -u)" = 0 ]; then $(VENV)/bin/astraea-cost link-sweep --out $(CAL_DIR)/links --embed; fi
	$(VENV)/bin/astraea-cost profile --out $(CAL_DIR)/sweep
	$(VENV)/bin/astraea-cost calibrate --runs $(CAL_DIR)/sweep --out $(CAL_DIR)/calibration.json --embed \
		$$([ -f $(CAL_DIR)/links/communication_fit.json ] && echo --communication $(CAL_DIR)/links/communication_fit.json)
	$(VENV)/bin/astraea-cost validate --embed --out $(CAL_DIR)/validation
	if [ "$$(id -u)" = 0 ]; then $(VENV)/bin/astraea-cost validate-network --embed --quiet --out $(CAL_DIR)/network; fi
	$(PY) -m costmodel.report.doc_tables

bench: install
	$(PY) -m pytest benchmarks --benchmark-enable --benchmark-only

clean:
	rm -rf $(VENV) $(DEMO_OUT) .pytest_cache .benchmarks
