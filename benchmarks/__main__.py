"""`python -m benchmarks` runs the comparison with Celery and Dask (benchmarks/compare.py)."""
from benchmarks.compare import main

raise SystemExit(main())
