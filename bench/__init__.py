"""Benchmarks of the app helpers on a local Kafka and registry (run: python bench/clients_bench.py)."""
