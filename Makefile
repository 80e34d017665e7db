# Shortcuts for the scripts in scripts/ (the scripts are the source of truth; make is optional).
.PHONY: run test lint bootstrap frontend frontend-test ci bench-embedding bench-encoder bench-decoder-graphs bench-propagation bench-refinement bench-refinement-speed bench-click bench-load

PY := .venv/bin/python

run:  ## install what is missing, seed the demo, serve http://127.0.0.1:8000
	bash scripts/run.sh

test:  ## the whole suite: pytest (unit, integration, browser) + vitest
	bash scripts/test.sh

lint:  ## static gates: ruff, import contracts, mypy, docs references, eslint, tsc (stops at the first failure)
	bash scripts/lint.sh

bootstrap:  ## install Python and frontend packages, build the frontend (idempotent)
	bash scripts/bootstrap.sh

frontend:  ## rebuild static/dist from frontend/src
	cd frontend && npm run build

frontend-test:
	cd frontend && npm test

ci:
	bash .ci/run

# Benchmarks (see docs/benchmarks.md for recorded results).
bench-embedding:  ## embedding pipeline vs bare encoder forward, default model and vit_b, CPU
	$(PY) bench/embedding_throughput.py

bench-encoder:  ## default model encoder time per 1024-px image vs MobileSAM vit_t, CPU
	$(PY) bench/default_encoder_speed.py

bench-click:  ## first / refinement clicks (150 ms dwell and none) at 1024-4096 px, open → first mask, vs a gunicorn round trip
	$(PY) bench/click_latency.py

bench-refinement:  ## mask quality along a click chain: int8 vs fp32 refinement graph against the official-style export
	$(PY) bench/refinement_quality.py

bench-refinement-speed:  ## refinement-click graph: ConvTranspose vs token-layout output upscaling, native, same process
	$(PY) bench/refinement_graph_speed.py

bench-load:  ## 50 clients saving annotations with versions against gunicorn on PostgreSQL: p50/p95/p99, errors, lost updates
	$(PY) bench/load_saves.py

bench-decoder-graphs:  ## decoder graph variants (low-res, first-click, int8 schemes) in native onnxruntime: time + IoU
	$(PY) bench/decoder_graphs.py

bench-propagation:  ## DICOM slice propagation on a generated phantom series: IoU per slice, stops, clicks saved
	$(PY) bench/propagation.py
