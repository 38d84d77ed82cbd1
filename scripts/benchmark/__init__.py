"""The benchmark behind ``scripts/bench.py``: one module per scenario family, the report in ``report``."""
