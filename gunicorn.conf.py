"""gunicorn settings for `make serve-prod`; each can be changed by an environment variable.

Every worker is a separate process with its own database connection pool and no shared
memory: sessions (signed cookies, SECRET_KEY), sign-in throttling (Redis or the database)
and caches must live outside the process, which is why REDIS_URL and SECRET_KEY matter.
"""

import multiprocessing
import os

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8050')}"
# Two processes per core (callbacks mostly wait on the database), at least 2, at most 8.
workers = int(os.environ.get("WORKERS") or max(2, min(8, 2 * multiprocessing.cpu_count())))
# Threads let one worker serve a page's parallel callback requests; each thread uses at
# most one database connection, so PostgreSQL needs workers x threads connections.
worker_class = "gthread"
threads = int(os.environ.get("THREADS") or 4)
# A callback that takes longer than this is killed and its worker restarted.
timeout = int(os.environ.get("TIMEOUT") or 60)
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then so a slow leak cannot grow without bound.
max_requests = 2000
max_requests_jitter = 200
# Each worker imports the app itself: engines and pools must not cross a fork.
preload_app = False
# Addresses of the reverse proxies allowed to set X-Forwarded-* (see PROXY_COUNT).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")

accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info")
# Client, time, request line, status, bytes, milliseconds: no cookies, no bodies.
access_log_format = '%(h)s %(t)s "%(r)s" %(s)s %(b)s %(M)sms'
