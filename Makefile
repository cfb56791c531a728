# Two commands on a fresh machine with python3: `make run` and `make test`.
# Both build .venv from requirements.lock (pinned, hash-checked) the first time.

SHELL := bash
.SHELLFLAGS := -o pipefail -ec

VENV := .venv
BIN := $(abspath $(VENV))/bin
STAMP := $(VENV)/.installed
NOTEBOOK_STAMP := $(VENV)/.notebook  # JupyterLab too (make notebook)
PYTHON := $(BIN)/python

# Stage commands (`python -m pipeline.x`) must find the venv's python; nothing phones home.
export PATH := $(BIN):$(PATH)
export MLFLOW_DISABLE_TELEMETRY := true
export DVC_NO_ANALYTICS := 1
export NO_MKDOCS_2_WARNING := 1

.PHONY: run baseline exps notebook test test-quick lint format params lock clean ui demo docs docs-serve bench bench-peers bench-sweep bench-loop bench-recipes cluster cluster-stop audit

# DVC ends every repro with "Use `dvc push` ...": only true where a remote is configured.
# (Only stdout is filtered: progress bars on stderr still see the terminal.)
REPRO = if [ -n "$$(dvc remote list)" ]; then dvc repro; \
	else dvc repro | sed -u '/^Use `dvc push` to send your updates/d'; fi

run: $(STAMP)  ## fetch -> prepare -> train -> evaluate on real MNIST, then a short summary
	$(REPRO)
	python -m pipeline.tools.summary

baseline: $(STAMP)  ## back to the last commit's configuration and results, after any experiment (retrains only what this machine never ran)
	git checkout HEAD -- params.yaml dvc.lock reports
	@# --force: an output the cache lacks goes without a question (the repro below remakes it)
	dvc checkout --allow-missing --force --quiet
	$(REPRO)
	python -m pipeline.tools.summary

# What a learner compares, narrow enough for a 120-column terminal (DVC's table has a column for
# every parameter, metric and dependency: 80 here). Best test accuracy first.
EXPS_COLUMNS = --drop '.*' --sort-by test.accuracy --sort-order desc \
  --keep '^(Experiment|optimizer\.lr|train\.batch_size|model\.hidden_sizes|val\.accuracy|test\.accuracy)$$'

exps: $(STAMP)  ## the experiments side by side in a normal terminal: learning rate, batch size, model, accuracies
	@dvc exp show $(EXPS_COLUMNS)

# Jupyter refuses to start as root unless told: root is who runs it on a container or a CI box
JUPYTER_AS_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root )
notebook: $(NOTEBOOK_STAMP)  ## JupyterLab on notebooks/tour.ipynb at http://127.0.0.1:8888 (PORT=... to change; installs JupyterLab once)
	jupyter lab --ip 127.0.0.1 --port $(or $(PORT),8888) $(JUPYTER_AS_ROOT)notebooks/tour.ipynb

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

# PyTorch, for bench-peers only: an environment of its own over the project's packages (never
# a dependency of the project). If it cannot be installed, the benchmark says so and runs the rest.
PEERS := .venv-peers
TORCH := torch==2.13.0

bench-peers: $(STAMP)  ## scratchnn's CNN and MLP epochs against PyTorch's, interleaved in one process (after make run; about 5 min)
	if [ ! -e $(PEERS)/.installed ]; then \
	  $(PYTHON) -m venv $(PEERS) && \
	  site=$$($(PEERS)/bin/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))') && \
	  echo "import site; site.addsitedir('$$($(PYTHON) -c 'import sysconfig; print(sysconfig.get_path("purelib"))')')" > $$site/project-venv.pth && \
	  $(PEERS)/bin/python -m pip install --quiet --disable-pip-version-check $(TORCH) && \
	  touch $(PEERS)/.installed || echo "bench-peers: $(TORCH) could not be installed into $(PEERS): timing scratchnn alone"; \
	fi
	if [ -e $(PEERS)/.installed ]; then $(PEERS)/bin/python -m pipeline.tools.bench.peers; \
	else python -m pipeline.tools.bench.peers; fi

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

COMPILE = $(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe --no-emit-index-url \
	  --no-emit-find-links --strip-extras
LOCKED_EXTRAS = --extra sweep --extra ui --extra cluster --extra docs --extra test

lock: ## re-resolve requirements.lock (and requirements-notebook.lock) from pyproject.toml (needs network to the package index)
	$(PYTHON) -m pip install -q pip-tools==7.6.2
	$(COMPILE) $(LOCKED_EXTRAS) -o requirements.lock pyproject.toml
	@# The notebook extra resolved beside everything else, starting from requirements.lock's pins
	@# (an output file's pins are kept where they fit); requirements-notebook.lock keeps what it adds.
	cp requirements.lock $(VENV)/everything.lock
	$(COMPILE) --all-extras -o $(VENV)/everything.lock pyproject.toml
	{ echo "# make lock: what the notebook extra adds to requirements.lock (make notebook)"; \
	  awk 'NR==FNR { if (/^[a-z0-9]/) locked[$$1]=1; next } \
	       /^[a-z0-9]/ { keep = !($$1 in locked) } keep' requirements.lock $(VENV)/everything.lock; \
	} > requirements-notebook.lock

$(STAMP): requirements.lock pyproject.toml
	@echo "Building the environment in $(VENV) from requirements.lock: every package pinned and hash-checked."
	@echo "This happens once and takes a few minutes; then the pipeline starts."
	python3 -m venv $(VENV)
	@# First the locked pip itself, hash-checked: the one a new venv brings may be too old to
	@# install this lock (pip 23 refuses a hashed package that another asks for with extras).
	awk '/^pip==/{p=1} p&&!/^pip==/&&!/^ /{exit} p' requirements.lock > $(VENV)/pip.lock
	$(PYTHON) -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r $(VENV)/pip.lock
	$(PYTHON) -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements.lock
	@# (without setuptools' box on editable installs: `pipeline/` beside the package is the package)
	PYTHONWARNINGS="ignore:Editable installation" \
	  $(PYTHON) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

# JupyterLab, beside the locked environment: what the notebook extra adds, every hash checked
# (its dependencies already installed from requirements.lock: --no-deps).
$(NOTEBOOK_STAMP): $(STAMP) requirements-notebook.lock
	$(PYTHON) -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps \
	  -r requirements-notebook.lock
	touch $(NOTEBOOK_STAMP)

clean: ## remove the environment and what the pipeline made (not the DVC cache, not data/kaggle/)
	rm -rf $(VENV) $(PEERS) data/raw data/prepared models dvc_plots outputs multirun site .pytest_cache .ruff_cache
