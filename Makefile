# Zhiku — two commands for a newcomer: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
DEMO := qa/demo/demo.json

.PHONY: run serve-nginx test test-postgres test-browser test-nginx test-faults soak lint format bench bench-scale loadtest venv venv-dev migrate static demo clean pygments-css messages

# The virtualenv is rebuilt when a requirements file changes.
$(VENV)/.installed: requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	@touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@touch $@

venv: $(VENV)/.installed
venv-dev: $(VENV)/.installed-dev

migrate: venv
	$(PY) manage.py migrate --noinput

static: venv
	$(PY) manage.py collectstatic --noinput --verbosity 0

demo: migrate
	$(PY) manage.py load_demo $(DEMO)

run: demo static
	@echo "Zhiku on http://127.0.0.1:$(PORT)/  (Ctrl-C stops it)"
	DJANGO_DEBUG=$${DJANGO_DEBUG:-false} $(VENV)/bin/gunicorn config.wsgi -c config/gunicorn.conf.py --bind 127.0.0.1:$(PORT)

# nginx on $(PORT) in front of gunicorn on the next port, as in production (docs/deploy.md):
# static files and downloads sent by nginx. Needs nginx (apt-get install nginx-light).
serve-nginx: demo static
	DJANGO_DEBUG=$${DJANGO_DEBUG:-false} $(PY) -m config.nginx serve --port $(PORT)

test: venv-dev
	$(PY) manage.py makemigrations --check --dry-run
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -m "not postgres and not browser and not nginx and not faults" $(PYTEST_ARGS)

test-browser: venv-dev
	bash .ci/browser.sh

test-nginx: venv-dev
	bash .ci/nginx.sh

test-postgres: venv-dev
	bash .ci/postgres.sh

# Fault tests (PostgreSQL restart, Redis outage, full disk, killed workers and imports),
# each on private servers it starts itself; needs root for the tmpfs and the postgres user.
test-faults: venv-dev
	bash .ci/faults.sh

# 200,000 mixed requests against gunicorn on SQLite, worker RSS growth < 10 % (not in CI: too slow).
soak: venv-dev
	@command -v wrk >/dev/null || (apt-get install -y wrk >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y wrk))
	nice $(PY) -m bench.soak $(SOAK_ARGS)

# Bounded load test on loopback gunicorn, once per database (PostgreSQL must be running).
LOADTEST_DBS ?= sqlite postgres
loadtest: venv-dev
	@for db in $(LOADTEST_DBS); do $(PY) -m bench.loadtest --db $$db $(LOADTEST_ARGS) || exit 1; done

# Benchmarks (not part of make test): prints one table, about 5-8 minutes on 2 cores.
# wrk is the load client; PostgreSQL rows need the local server (.ci/postgres.sh starts it).
bench: venv-dev
	@command -v wrk >/dev/null || (apt-get install -y wrk >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y wrk))
	$(PY) -m bench.run $(BENCH_ARGS)

# Many questions on one PostgreSQL (not part of make test or CI; docs/performance.md, "At scale").
# Needs the local server (.ci/postgres.sh starts it); fills and drops databases zhiku_scale*.
# Then the ANN index for search by meaning over as many (synthetic) vectors (bench/ann.py).
SCALE_QUESTIONS ?= 1000000
bench-scale: venv-dev
	$(PY) -m pip install --quiet -r bench/requirements.txt
	nice -n 10 $(PY) -m bench.scale --questions $(SCALE_QUESTIONS) $(BENCH_SCALE_ARGS)
	nice -n 10 $(PY) -m bench.ann --vectors $(SCALE_QUESTIONS)

lint: venv-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: venv-dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# Needs gettext (apt-get install -y gettext); the compiled .mo is committed.
messages: venv
	$(PY) manage.py makemessages -l zh_Hans --ignore=.venv --ignore=tests --ignore=bench --ignore=var --no-obsolete
	$(PY) manage.py compilemessages -l zh_Hans --ignore=.venv

pygments-css: venv
	$(PY) -c "from qa.markdown import site_pygments_css; print(site_pygments_css(), end='')" > static/css/pygments.css

clean:
	rm -rf $(VENV) var/static .pytest_cache
