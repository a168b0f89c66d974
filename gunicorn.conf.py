"""gunicorn settings for the `web` process (Procfile).

Metrics: each gunicorn worker is its own process, so counters are shared through
prometheus_client's multiprocess mode: a fresh directory per server start, named in
PROMETHEUS_MULTIPROC_DIR before the workers import anything, and a dead worker's live
gauges dropped when it exits.
"""

import os
import shutil
import tempfile

_metrics_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or tempfile.mkdtemp(
    prefix="loyalty-metrics-"
)
shutil.rmtree(_metrics_dir, ignore_errors=True)
os.makedirs(_metrics_dir)
os.environ["PROMETHEUS_MULTIPROC_DIR"] = _metrics_dir

bind = f"0.0.0.0:{os.environ.get('PORT', '5000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# Threads: requests mostly wait on PostgreSQL (the intake's commit); the shape
# benchmarks/webhook_intake.py measures. PostgreSQL already shares one WAL flush among
# concurrent commits: batching the intake's INSERTs in the app was tried and measured
# slower (712/s against 1,162/s), since it serialised each process's inserts.
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
# Each worker listens on its own SO_REUSEPORT socket, so the kernel spreads new connections
# over the workers. On one shared socket, whichever worker is awake accepts: with long-lived
# keep-alive connections (a proxy's, Shopify's) one worker was seen holding every connection
# while the other idled, halving throughput (benchmarks/webhook_intake.py, 2 workers).
reuse_port = True
timeout = 30
accesslog = "-"


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
