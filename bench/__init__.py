"""Benchmarks: lambdalite against Celery and Dramatiq on the same machine, in one run (`make bench`)."""
