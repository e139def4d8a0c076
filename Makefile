# Two commands a newcomer needs:  make demo  (the main job against the bundled simulator)
#                                 make test  (the whole test suite on the newest ansible-core, then the
#                                             compatibility runs; its last line names the core and Python of each)
# Both create the venvs they need and install what they need on first use.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
COLLECTIONS := $(VENV)/collections
export ANSIBLE_COLLECTIONS_PATH := $(abspath $(COLLECTIONS))
export ANSIBLE_PYTHON_INTERPRETER := $(abspath $(PY))
export PATH := $(abspath $(VENV)/bin):$(PATH)

# make test's runs, each in a venv of its own (README.md "Tested versions" lists them; each leaves a record in
# RUNS_DIR and hacking/support_table.py holds the table to them at the end):
# - test-highest: the whole suite on the newest ansible-core, 2.21, which needs Python 3.12 or newer on the
#   controller. The newest Python here is found by running the candidates (python3.14, 3.13, 3.12 on PATH, then
#   pyenv's versions: its shims fail unless a version is selected); PYTHON_NEWEST=/path/to/python overrides. With
#   none, one line says so and the suite runs on the newest ansible-core $(PYTHON) allows.
# - test-modules-py39: the modules' oldest Python. The controller of test-highest runs the playbook tests of the
#   modules with ANSIBLE_PYTHON_INTERPRETER on a Python 3.9 venv holding requirements.txt only (requests); none
#   found, one line says so.
# - test-middle: ansible-core 2.19 on $(PYTHON) (.venv, also make demo's venv; the newest core Python 3.11 gets),
#   the compatibility subset below. Said and skipped when it would run the same core as test-highest.
# - test-lowest: the lowest core, 2.16 (.venv-2.16), the compatibility subset.
NEWEST_VENV ?= .venv-newest
NEWEST_PYTHON := $(shell $(PYTHON) hacking/find-python.py newest $(PYTHON_NEWEST) 2>/dev/null)
MODULES_VENV ?= .venv-py3.9
MODULES_TESTS := tests/integration/test_module_python.py tests/integration/test_modules.py tests/integration/test_backup_module.py \
	tests/integration/test_deployment.py tests/integration/test_environment_variables.py \
	tests/integration/test_bad_input.py
RUNS_DIR := tests/output/runs
LOWEST_VENV ?= .venv-2.16
LOWEST_CORE ?= ansible-core>=2.16.19,<2.17
LOWEST_HTTP ?= requests==2.28.2 urllib3==1.26.18
LOWEST_PYTHON ?= $(PYTHON)
# test-middle (2.19, between the two ends) runs the tests of what Ansible itself shapes - module arguments and
# results, the lookup, the inventory, the role and the playbooks, templating of API data, -vvvv output, the docs -
# and leaves the domain's long runs (downloads, verification, copies, page shapes) to the two ends.
MIDDLE_TESTS := tests/unit tests/hostile $(addprefix tests/integration/test_,$(addsuffix .py,modules lookup inventory \
	inventory_verify gate_and_reports deployment_gate refresh_environment inert_names token_safety bad_input docs \
	deprecations ambiguous_names encoded_secrets backup_module backup_restore deployment environment_variables)) \
	-m "not quality"
# The compatibility subset: what runs Ansible code, less what exercises only Ansible-free code at length (the
# divio-cli runs, fleet scale, the upload handlers against moto and Azurite, the restore proof's hostile dumps, the
# benchmark scripts' smoke runs).
COMPAT_TESTS := tests/unit tests/integration tests/hostile -m "not quality" \
	--ignore=tests/integration/test_fleet_scale.py --ignore=tests/integration/test_deployment_cli.py \
	--ignore=tests/integration/test_divio_cli_conformance.py --ignore=tests/integration/test_pull_cli.py \
	--ignore=tests/integration/test_push_cli.py --ignore=tests/integration/test_simulator_downloads.py \
	--ignore=tests/integration/test_copy_handlers.py --ignore=tests/integration/test_restore_hostile.py \
	--ignore=tests/integration/test_benchmarks_run.py

.PHONY: demo standins test test-prepare quality-venvs test-highest test-modules-py39 test-middle test-lowest test-middle-run test-modules-py39-run test-start venv \
	venv-newest venv-lowest clean FORCE

venv: $(VENV)/.installed
venv-newest: $(NEWEST_VENV)/.installed
venv-lowest: $(LOWEST_VENV)/.installed
# $(call make-venv,DIRECTORY,PYTHON,EXTRA REQUIREMENTS): hacking/check-python.py says in one clear line, before
# anything is installed, when the Python is older than 3.10; the collections/ tree points at this checkout.
# --no-compile: Python compiles what is imported on first use; compiling all of ansible-core, moto and boto at
# install costs a third of a venv's CPU time.
define make-venv
@command -v $(2) >/dev/null || { echo "$(2) not found: install Python 3.10 or newer, or run make PYTHON=/path/to/python3" >&2; exit 1; }
@$(2) hacking/check-python.py
$(2) -m venv $(1)
$(1)/bin/python -m pip install --quiet --disable-pip-version-check --no-compile -r requirements-test.txt $(3)
mkdir -p $(1)/collections/ansible_collections/divio
ln -sfn $(CURDIR) $(1)/collections/ansible_collections/divio/cloud
touch $(1)/.installed
endef

$(VENV)/.installed: requirements.txt requirements-test.txt
	$(call make-venv,$(VENV),$(PYTHON),)

$(LOWEST_VENV)/.installed: requirements.txt requirements-test.txt Makefile
	$(call make-venv,$(LOWEST_VENV),$(LOWEST_PYTHON),'$(LOWEST_CORE)' $(LOWEST_HTTP))

# Made again from scratch when the newest Python found is another one than the venv's (.python names it).
$(NEWEST_VENV)/.installed: requirements.txt requirements-test.txt \
		$(if $(filter $(NEWEST_PYTHON),$(shell cat $(NEWEST_VENV)/.python 2>/dev/null)),,FORCE)
	@[ "$$(cat $(NEWEST_VENV)/.python 2>/dev/null)" = "$(NEWEST_PYTHON)" ] || rm -rf $(NEWEST_VENV)
	$(call make-venv,$(NEWEST_VENV),$(NEWEST_PYTHON),)
	@echo '$(NEWEST_PYTHON)' >$(NEWEST_VENV)/.python

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

# PYTEST_ARGS go to every run, e.g. PYTEST_ARGS="-k backup". Each run first says what it runs on.
SHOW_VERSIONS := import ansible, requests, sys, urllib3; \
	print("ansible-core %s on Python %d.%d.%d, requests %s, urllib3 %s" % ((ansible.__version__,) + \
	tuple(sys.version_info[:3]) + (requests.__version__, urllib3.__version__)))
CORE_OF = $$($(1)/bin/python -c 'import ansible; print(ansible.__version__.rsplit(".", 1)[0])')
# $(call run-suite,VENV,RUN NAME,WHAT,TESTS,ENVIRONMENT): pytest -n 2 in VENV, with its collections tree and
# Python; the run leaves its record in RUNS_DIR (tests/testlib.py).
define run-suite
@echo "== $(2): $$($(1)/bin/python -c '$(SHOW_VERSIONS)'): $(3)"
$(5) PATH=$(abspath $(1)/bin):$$PATH ANSIBLE_COLLECTIONS_PATH=$(abspath $(1)/collections) \
	ANSIBLE_PYTHON_INTERPRETER=$(abspath $(1)/bin/python) DIVIO_TEST_RUN=$(2) \
	$(1)/bin/python -m pytest -n 2 --durations=15 $(4) $(PYTEST_ARGS)
endef
# $(call skip-run,RUN NAME,WHY): the one line, and the record hacking/support_table.py reads.
define skip-run
echo "== $(1) skipped: $(2)"; mkdir -p $(RUNS_DIR); \
	printf '{"run": "%s", "not_run": "%s"}\n' '$(1)' "$(2)" >$(RUNS_DIR)/$(1).json
endef

test: test-start test-prepare test-highest test-modules-py39 test-middle test-lowest
	@$(NEWEST_VENV)/bin/python hacking/support_table.py $(RUNS_DIR) README.md

test-start:
	@rm -rf $(RUNS_DIR)

# What the runs install, made side by side before them (pip and npm wait on the network and the disk much of
# the time): the venvs, Azurite and, unless PYTEST_ARGS leaves the quality gates out, the tool venv and the
# virtual environments ansible-test sanity makes for its tests (its --prime-venvs; the cold sanity run's
# minutes, overlapped with the rest).
test-prepare:
	@$(MAKE) --no-print-directory -j4 -Otarget venv venv-lowest standins \
		$(if $(findstring not quality,$(PYTEST_ARGS)),venv-newest,quality-venvs)

quality-venvs: venv-newest
	@VENV=$(abspath $(NEWEST_VENV)) hacking/ansible-test.sh sanity --prime-venvs </dev/null >$(NEWEST_VENV)/prime-venvs.log 2>&1 || \
		{ tail -n 20 $(NEWEST_VENV)/prime-venvs.log; exit 1; }

# Azurite (npm) serves the az-sas-v1 upload handler to the tests (moto, from requirements-test.txt, serves s3-sts-v1):
# installed once into .venv/azurite, a hidden folder out of the collection build and ansible-test's copy.
standins:
	@hacking/install-azurite.sh .venv/azurite

test-highest: venv-newest standins
	@$(NEWEST_VENV)/bin/python -c 'import sys; sys.exit(sys.version_info < (3, 12))' || echo "== test-highest:" \
		"no Python 3.12 or newer here (python3.14, 3.13, 3.12, pyenv), which ansible-core 2.20 and 2.21 need: the" \
		"whole suite runs on $(NEWEST_PYTHON) with the newest ansible-core it allows (PYTHON_NEWEST= picks one)"
	$(call run-suite,$(NEWEST_VENV),test-highest,the whole suite,,\
		DIVIO_TEST_FOUND_PYTHONS="$$($(PYTHON) hacking/find-python.py found)")

test-modules-py39: venv-newest
	@py39=$$($(PYTHON) hacking/find-python.py 3.9) || { \
		$(call skip-run,test-modules-py39,no Python 3.9 here (python3.9 on PATH or pyenv)); exit 0; }; \
	if [ "$$(cat $(MODULES_VENV)/.python 2>/dev/null)" != "$$py39" ] || [ requirements.txt -nt $(MODULES_VENV)/.python ]; \
	then \
		rm -rf $(MODULES_VENV) && $$py39 -m venv $(MODULES_VENV) && \
		$(MODULES_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt && \
		echo "$$py39" >$(MODULES_VENV)/.python || exit 1; \
	fi; \
	$(MAKE) --no-print-directory test-modules-py39-run

MODULES_VERSIONS := import sys, requests, urllib3; print("Python %d.%d.%d, requests %s, urllib3 %s" % \
	(tuple(sys.version_info[:3]) + (requests.__version__, urllib3.__version__)))
test-modules-py39-run:
	@echo "== test-modules-py39: the modules run on $$($(MODULES_VENV)/bin/python -c '$(MODULES_VERSIONS)')"
	$(call run-suite,$(NEWEST_VENV),test-modules-py39,the modules' playbook tests,$(MODULES_TESTS) -m "not quality",\
		DIVIO_TEST_MODULE_PYTHON=$(abspath $(MODULES_VENV)/bin/python))

test-middle: venv venv-newest
	@if [ "$(call CORE_OF,$(VENV))" = "$(call CORE_OF,$(NEWEST_VENV))" ]; then \
		$(call skip-run,test-middle,$(VENV) has the same ansible-core as test-highest); \
	else $(MAKE) --no-print-directory test-middle-run; fi

test-middle-run: standins
	$(call run-suite,$(VENV),test-middle,the Ansible-facing subset,$(MIDDLE_TESTS))

test-lowest: venv-lowest standins
	$(call run-suite,$(LOWEST_VENV),test-lowest,the compatibility subset,$(COMPAT_TESTS))

clean:
	rm -rf $(VENV) $(NEWEST_VENV) $(LOWEST_VENV) $(MODULES_VENV) collections .pytest_cache reports $(RUNS_DIR)

FORCE:
