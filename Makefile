# Two commands a newcomer needs:  make demo  (the main job against the bundled simulator)
#                                 make test  (the whole test suite)
# Both create .venv and install what they need on first use.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
COLLECTIONS := $(VENV)/collections
export ANSIBLE_COLLECTIONS_PATH := $(abspath $(COLLECTIONS))
export ANSIBLE_PYTHON_INTERPRETER := $(abspath $(PY))
export PATH := $(abspath $(VENV)/bin):$(PATH)

.PHONY: demo test venv clean

venv: $(VENV)/.installed

# hacking/check-python.py: one clear line, before anything is installed, when $(PYTHON) is older than 3.10.
$(VENV)/.installed: requirements.txt requirements-test.txt
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found: install Python 3.10 or newer, or run make PYTHON=/path/to/python3" >&2; exit 1; }
	@$(PYTHON) hacking/check-python.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-test.txt
	mkdir -p $(COLLECTIONS)/ansible_collections/divio
	ln -sfn $(CURDIR) $(COLLECTIONS)/ansible_collections/divio/cloud
	touch $@

# The demo data holds stale and missing backups on purpose, so the check's result is "stale" (and
# ansible-playbook exits 2). make demo reads summary.result from reports/backups.json, not the exit
# code: stale is the expected outcome, failed (the check could not run) a real failure.
demo: venv
	@rm -f reports/backups.json reports/backups.xml reports/backups.md reports/backups.prom
	@status=0; hacking/with-simulator.sh ansible-playbook playbooks/check_backups.yml $(DEMO_ARGS) || status=$$?; \
	result=$$($(PY) -c 'import json; print(json.load(open("reports/backups.json"))["summary"]["result"])' 2>/dev/null) \
		|| result="none (no reports/backups.json)"; \
	if [ -f reports/backups.md ]; then echo; cat reports/backups.md; echo; fi; \
	case $$result in \
	fresh) echo "make demo: summary.result fresh - every backup is fresh (check_backups exited $$status).";; \
	stale) echo "make demo: summary.result stale - stale or missing backups found, which the demo data has on purpose" \
		"(check_backups exited $$status).";; \
	*) echo "make demo: the check failed - summary.result $$result (check_backups exited $$status)." >&2; exit 1;; \
	esac

test: venv
	$(PY) -m pytest -n 2 $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) collections .pytest_cache reports
