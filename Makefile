# make run: the whole stack in the foreground.  make test: every test.
PYTHON ?= python3
UV_VERSION := 0.13.9
UV := $(shell command -v uv 2>/dev/null || echo .tools/uv/bin/uv)
VENV := .venv
# The dashboard's browser test drives Debian's Chromium (through Playwright); intake reads
# scanned pages with Debian's Tesseract and its English and German models.
CHROMIUM := /usr/bin/chromium
TESSERACT := /usr/bin/tesseract
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# make test GROUPS=docker: install pyproject.toml's dependency groups named here as well
# (docker: testcontainers, for BPO_TEST_SERVERS=containers); a make without them removes them.
GROUPS =

.PHONY: run run-cluster test lint check install clean bench demo chaos

run: install $(TESSERACT)
	$(VENV)/bin/bpo dev up

# make run-cluster: the same on one machine as the cluster it is deployed as: three NATS nodes
# (the stream at three replicas) and two replicas of every service behind the same ports.
run-cluster: install $(TESSERACT)
	$(VENV)/bin/bpo dev up --cluster

test: install $(CHROMIUM) $(TESSERACT)
	$(VENV)/bin/pytest

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .

check: lint test

# make demo: a job keyed by simulated contractors, against the stack `make run` started.
demo: install
	$(VENV)/bin/bpo demo

# make chaos: a 5,000-item job keyed while services, NATS and PostgreSQL are killed and
# restarted, then every invariant checked (make test runs a short form of it). CLUSTER=1: on
# the cluster, killing one NATS node and one replica of a service at a time.
chaos: install
	$(VENV)/bin/bpo dev chaos --full $(if $(CLUSTER),--cluster)

# make bench: every benchmark in bench/, one process each; the figures go to bench/results.md.
bench: install $(CHROMIUM) $(TESSERACT)
	$(VENV)/bin/python bench/run.py

# Dependencies compiled to bytecode as they are installed: the stack and the tests start many
# Python processes, and each would compile every module it imports again where the
# environment says not to write bytecode (PYTHONDONTWRITEBYTECODE), some 2 s a process.
install: $(VENV)/.synced

$(VENV)/.synced: Makefile uv.lock pyproject.toml libs/common/pyproject.toml libs/devtools/pyproject.toml tools/cli/pyproject.toml \
		$(wildcard services/*/pyproject.toml) .tools/groups | $(UV)
	$(UV) sync --frozen --compile-bytecode --python $(PYTHON) $(addprefix --group ,$(GROUPS))
	touch $@

# The GROUPS of the last sync, rewritten only when they change: a change syncs again.
.tools/groups: FORCE
	@mkdir -p $(@D)
	@[ -f $@ ] && [ "$$(cat $@)" = "$(GROUPS)" ] || echo "$(GROUPS)" > $@

FORCE:

# Installed once, only when missing.
$(CHROMIUM):
	$(SUDO) apt-get update -qq
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		chromium >/dev/null

$(TESSERACT):
	$(SUDO) apt-get update -qq
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		tesseract-ocr tesseract-ocr-eng tesseract-ocr-deu >/dev/null

.tools/uv/bin/uv:
	$(PYTHON) -m venv .tools/uv
	.tools/uv/bin/pip install --quiet uv==$(UV_VERSION)

clean:
	rm -rf $(VENV) .tools .run/test .pytest_cache .mypy_cache .ruff_cache
