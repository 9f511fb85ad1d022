"""gunicorn settings for the web processes (read from the working directory; `gunicorn taizhou_si.wsgi`).

Threaded workers (gthread): external systems keep their HTTP connections open between calls, and a
sync worker would sit blocked on such an idle connection until the next request arrives on it (measured:
with 50 clients pausing ~1 s between calls, 5 sync workers answered at p50 300 ms instead of 20 ms). The
gthread worker parks idle keep-alive connections in a poller and serves whichever has a request.
Environment: WEB_CONCURRENCY (processes, default 2 × cores + 1), GUNICORN_THREADS (per process, default 4),
GUNICORN_BIND (default 0.0.0.0:8000),
GUNICORN_ACCESSLOG (default "-", standard output; empty: none).
"""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", 2 * multiprocessing.cpu_count() + 1))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
keepalive = 75  # seconds an idle connection is kept (longer than the callers' pause between calls)
timeout = 120  # a worker silent this long is restarted; large uploads go to Celery, not the request
max_requests = 10_000  # recycle processes now and then (memory), staggered by the jitter
max_requests_jitter = 1_000
accesslog = os.environ.get("GUNICORN_ACCESSLOG", "-") or None  # "" switches it off
# The URL of an API call never carries an ID number (lookups by number are POST), so the access log may show it.
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms "%({x-request-id}o)s"'
