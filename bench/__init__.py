"""Benchmarks of watchparty: sync precision lab, fan-out load, memory and growth, and
the Django Channels baseline. See bench/README.md; figures live in BENCHMARKS.md."""
