"""s3logs: AWS S3 server access logs into a typed, tested, documented warehouse table."""

import os

__version__ = "0.1.0"

# NumPy (imported by DuckDB and dbt, never used for linear algebra here) starts an OpenBLAS
# thread per core that spins at start-up: 0.1 CPU-second per process, which `s3logs run`'s
# first cycle pays twice while both of its processes compete for two cores. One thread, unless
# the environment says otherwise.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
