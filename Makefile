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

demo: venv
	hacking/with-simulator.sh ansible-playbook playbooks/list_applications.yml

test: venv
	$(PY) -m pytest -n 2 $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) collections .pytest_cache reports
