# Entry points. Each target does its own set-up; add yours below.
.PHONY: bench bench-quick bench-setup

PYTHON := .venv/bin/python

bench-setup:
	bench/setup.sh

# Every workload against lambdalite, Celery and Dramatiq (several minutes); table + bench/results/latest.{json,md}
bench: bench-setup
	$(PYTHON) -m bench $(BENCH_ARGS)

# The same workloads, smaller: under two minutes
bench-quick: bench-setup
	$(PYTHON) -m bench --quick $(BENCH_ARGS)
