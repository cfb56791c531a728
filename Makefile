# Two commands on a fresh machine with python3: `make run` and `make test`.
# Both build .venv from requirements.lock (pinned, hash-checked) the first time.

SHELL := bash
.SHELLFLAGS := -o pipefail -ec

VENV := .venv
BIN := $(abspath $(VENV))/bin
STAMP := $(VENV)/.installed
PYTHON := $(BIN)/python

# Stage commands (`python -m pipeline.x`) must find the venv's python; nothing phones home.
export PATH := $(BIN):$(PATH)
export MLFLOW_DISABLE_TELEMETRY := true
export DVC_NO_ANALYTICS := 1
export NO_MKDOCS_2_WARNING := 1

.PHONY: run test test-quick lint format params lock clean ui demo docs docs-serve bench bench-sweep bench-loop bench-recipes cluster cluster-stop audit

run: $(STAMP)  ## fetch -> prepare -> train -> evaluate on real MNIST
	@# DVC ends every repro with "Use `dvc push` ...": only true where a remote is configured.
	@# (Only stdout is filtered: progress bars on stderr still see the terminal.)
	if [ -n "$$(dvc remote list)" ]; then dvc repro; \
	else dvc repro | sed -u '/^Use `dvc push` to send your updates/d'; fi

test: $(STAMP)  ## the whole test suite on both cores (what .ci/run runs)
	pytest -n 3

test-quick: $(STAMP)  ## the same without the long runs of whole recipes on the real MNIST
	pytest -n 3 -m "not long"

ui: $(STAMP)  ## the MLflow UI over the project's store on http://127.0.0.1:5000 (PORT=... to change)
	@echo "open http://127.0.0.1:$(or $(PORT),5000)/#/experiments?workflowType=machine_learning (the model-training view)"
	mlflow ui --backend-store-uri sqlite:///$(CURDIR)/mlflow.db --host 127.0.0.1 --port $(or $(PORT),5000)

demo: $(STAMP)  ## the drawing page on http://127.0.0.1:8080 for models/model.npz (MODEL=models:/neuralscratch@champion, runs:/..., a .npz; PORT=...)
	python -m pipeline.demo $(or $(MODEL),models/model.npz) --port $(or $(PORT),8080)

docs: $(STAMP)  ## the guides as a website in site/ (mkdocs --strict: a broken link or anchor fails; fetches nothing)
	mkdocs build --strict --site-dir site

docs-serve: $(STAMP)  ## the guides' website on http://127.0.0.1:8000 (PORT=... to change), rebuilt on every edit
	mkdocs serve --strict --dev-addr 127.0.0.1:$(or $(PORT),8000)

cluster: $(STAMP)  ## SLURM, PostgreSQL, S3 and an MLflow server with logins, on 127.0.0.1 (state in .cluster/)
	python -m pipeline.cluster start

cluster-stop: $(STAMP)  ## stop every service `make cluster` started (by PID; the state stays in .cluster/)
	python -m pipeline.cluster stop

audit: $(STAMP)  ## known vulnerabilities in the locked packages (needs an advisory database: not in CI; fails if a package could not be checked)
	pip-audit --strict --disable-pip --require-hashes -r requirements.lock

bench: $(STAMP)  ## scratchnn speed against this machine's matrix-product floor (real MNIST)
	neuralscratch-bench

bench-sweep: $(STAMP)  ## a 4-job learning-rate sweep, sequential vs joblib with 2 jobs (after make run)
	neuralscratch-bench-sweep

bench-loop: $(STAMP)  ## one experiment's seconds beyond its epochs, phase by phase, and the 4-job sweep on both cores (after make run; about 3 min)
	python -m pipeline.tools.bench_loop

bench-recipes: $(STAMP)  ## each recipe of conf/experiment/: its test accuracy, time and memory (after make run; about 20 min)
	python -m pipeline.tools.bench_recipes

lint: $(STAMP)  ## ruff check + format check
	ruff check .
	ruff format --check .

format: $(STAMP)
	ruff check --fix .
	ruff format .

params: $(STAMP)  ## regenerate params.yaml from conf/ (pass overrides: make params O="optimizer.lr=0.01")
	neuralscratch-params $(O)

lock: ## re-resolve requirements.lock from pyproject.toml (needs network to the package index)
	$(PYTHON) -m pip install -q pip-tools==7.6.2
	$(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe --no-emit-index-url \
	  --no-emit-find-links --all-extras --strip-extras -o requirements.lock pyproject.toml

$(STAMP): requirements.lock pyproject.toml
	python3 -m venv $(VENV)
	@# First the locked pip itself, hash-checked: the one a new venv brings may be too old to
	@# install this lock (pip 23 refuses a hashed package that another asks for with extras).
	awk '/^pip==/{p=1} p&&!/^pip==/&&!/^ /{exit} p' requirements.lock > $(VENV)/pip.lock
	$(PYTHON) -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r $(VENV)/pip.lock
	$(PYTHON) -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements.lock
	$(PYTHON) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

clean: ## remove the environment and what the pipeline made (not the DVC cache, not data/kaggle/)
	rm -rf $(VENV) data/raw data/prepared models dvc_plots outputs multirun site .pytest_cache .ruff_cache
