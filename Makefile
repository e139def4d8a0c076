# Two commands a newcomer needs:  make demo  (the main job against the bundled simulator)
#                                 make test  (the whole test suite, then a subset on the lowest ansible-core)
# Both create .venv (make test also .venv-2.16) and install what they need on first use.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
COLLECTIONS := $(VENV)/collections
export ANSIBLE_COLLECTIONS_PATH := $(abspath $(COLLECTIONS))
export ANSIBLE_PYTHON_INTERPRETER := $(abspath $(PY))
export PATH := $(abspath $(VENV)/bin):$(PATH)

# The compatibility run: the lowest ansible-core the collection supports, 2.16, in a venv of its own (it runs
# on Python 3.10 to 3.12; LOWEST_PYTHON=python3.11 if python3 is newer), on every test that runs Ansible code:
# tests/unit and tests/integration without the quality gates (they bring their own tool chain), the client-level
# scale test (fleet scale: no Ansible in it), plus tests/hostile (the client against broken servers: dripping
# headers and bodies, endless bodies, hanging name lookups, redirects; and the -vvvv token sweep). tests/stress
# (soak and churn under injected faults), tests/simulator (the simulator's own tests) and the divio-cli tests (the
# official client against the simulator) run no Ansible code and run on the highest only. The highest, 2.19, is
# the whole suite in .venv. 2.17 gets no run: pytest-ansible, which the suite needs, refuses ansible-core 2.17.
# The HTTP stack has two lines as well: transport.py extends urllib3 (its connection and pool classes), so the
# compatibility venv pins the urllib3 1.26 line that older execution environments carry, with a requests of its
# time (LOWEST_HTTP); .venv gets the newest requests and urllib3 2.x. The venv is brought to these pins again
# whenever this Makefile changes.
LOWEST_VENV ?= .venv-2.16
LOWEST_CORE ?= ansible-core>=2.16.19,<2.17
LOWEST_HTTP ?= requests==2.28.2 urllib3==1.26.18
LOWEST_PYTHON ?= $(PYTHON)
LOWEST_TESTS := tests/unit tests/integration tests/hostile -m "not quality" \
	--ignore=tests/integration/test_fleet_scale.py --ignore=tests/integration/test_deployment_cli.py \
	--ignore=tests/integration/test_divio_cli_conformance.py --ignore=tests/integration/test_pull_cli.py \
	--ignore=tests/integration/test_push_cli.py --ignore=tests/integration/test_simulator_downloads.py

.PHONY: demo test test-highest test-lowest venv venv-lowest clean

venv: $(VENV)/.installed
venv-lowest: $(LOWEST_VENV)/.installed

# $(call make-venv,DIRECTORY,PYTHON,EXTRA REQUIREMENTS): hacking/check-python.py says in one clear line, before
# anything is installed, when the Python is older than 3.10; the collections/ tree points at this checkout.
define make-venv
@command -v $(2) >/dev/null || { echo "$(2) not found: install Python 3.10 or newer, or run make PYTHON=/path/to/python3" >&2; exit 1; }
@$(2) hacking/check-python.py
$(2) -m venv $(1)
$(1)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-test.txt $(3)
mkdir -p $(1)/collections/ansible_collections/divio
ln -sfn $(CURDIR) $(1)/collections/ansible_collections/divio/cloud
touch $(1)/.installed
endef

$(VENV)/.installed: requirements.txt requirements-test.txt
	$(call make-venv,$(VENV),$(PYTHON),)

$(LOWEST_VENV)/.installed: requirements.txt requirements-test.txt Makefile
	$(call make-venv,$(LOWEST_VENV),$(LOWEST_PYTHON),'$(LOWEST_CORE)' $(LOWEST_HTTP))

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

# PYTEST_ARGS go to both runs, e.g. PYTEST_ARGS="-k backup". Each run first says what it runs on.
SHOW_VERSIONS := import ansible, requests, urllib3; \
	print("ansible-core %s, requests %s, urllib3 %s" % (ansible.__version__, requests.__version__, urllib3.__version__))
test: test-highest test-lowest

test-highest: venv
	@hacking/install-azurite.sh $(VENV)/azurite
	@echo "== $$($(PY) -c '$(SHOW_VERSIONS)'): the whole suite"
	$(PY) -m pytest -n 2 $(PYTEST_ARGS)

test-lowest: venv-lowest
	@echo "== $$($(LOWEST_VENV)/bin/python -c '$(SHOW_VERSIONS)'): the compatibility subset"
	PATH=$(abspath $(LOWEST_VENV)/bin):$$PATH ANSIBLE_COLLECTIONS_PATH=$(abspath $(LOWEST_VENV)/collections) \
		ANSIBLE_PYTHON_INTERPRETER=$(abspath $(LOWEST_VENV)/bin/python) \
		$(LOWEST_VENV)/bin/python -m pytest -n 2 $(LOWEST_TESTS) $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) $(LOWEST_VENV) collections .pytest_cache reports
