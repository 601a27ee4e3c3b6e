.PHONY: run test setup lint format

run:  ## set everything up and run SecureFlow (web on 127.0.0.1:8000 + Celery worker)
	scripts/run.sh

test:  ## set up and run the whole test suite
	scripts/test.sh

setup:
	scripts/setup.sh --dev

lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check .

format:
	.venv/bin/ruff check --fix . && .venv/bin/ruff format .
