# Shortcuts for the scripts in scripts/ (the scripts are the source of truth; make is optional).
.PHONY: run test bootstrap frontend frontend-test ci bench-embedding bench-decoder bench-browser-decoder bench-training

PY := .venv/bin/python

run:  ## install what is missing, seed the demo, serve http://127.0.0.1:8000
	bash scripts/run.sh

test:  ## the whole suite: pytest (unit, integration, browser) + vitest
	bash scripts/test.sh

bootstrap:  ## install Python and frontend packages, build the frontend (idempotent)
	bash scripts/bootstrap.sh

frontend:  ## rebuild static/dist from frontend/src
	cd frontend && npm run build

frontend-test:
	cd frontend && npm test

ci:
	bash .ci/run

# Benchmarks (scripts written alongside the engine; see docs/benchmarks.md).
bench-embedding:
	$(PY) bench/embedding_throughput.py

bench-decoder:
	$(PY) bench/decoder_latency.py

bench-browser-decoder:
	$(PY) bench/browser_decoder_latency.py

bench-training:
	$(PY) bench/training_eval.py
