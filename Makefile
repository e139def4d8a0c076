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

$(VENV)/.installed: requirements.txt requirements-test.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-test.txt
	mkdir -p $(COLLECTIONS)/ansible_collections/divio
	ln -sfn $(CURDIR) $(COLLECTIONS)/ansible_collections/divio/cloud
	touch $@

# The demo data holds stale and missing backups on purpose, so check_backups exits 2: show the report
# and treat that as the expected outcome; anything else is a real failure.
demo: venv
	@rm -f reports/backups.json reports/backups.xml reports/backups.md
	@status=0; hacking/with-simulator.sh ansible-playbook playbooks/check_backups.yml $(DEMO_ARGS) || status=$$?; \
	if [ -f reports/backups.md ]; then echo; cat reports/backups.md; echo; fi; \
	echo "check_backups exited $$status (2 = stale or missing backups found, which the demo data has on purpose)."; \
	[ $$status -eq 0 ] || [ $$status -eq 2 ]

test: venv
	$(PY) -m pytest -n 2 $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) collections .pytest_cache reports
