"""How gunicorn serves isoguard: `make run`, the load benchmark and docs/deployment.md use this.

    gunicorn isoguard.wsgi --config gunicorn.conf.py --bind HOST:PORT

Processes, not threads: a request holds Python's lock while it computes, so threads of one
process take turns, and a thread that holds a database lock (the audit chain's head, SQLite's
writer lock) waits for its turn too while every other writer waits for it. Single-threaded
workers served more dispense authorisations, with a far lower p99, than two workers of four
threads did (docs/benchmarks.md, "Dispense authorisation under load").
"""

import os

# gunicorn's own advice: two workers per core, plus one; the cores this process may run on, not
# the host's, and at most nine (each keeps a database connection). ISOGUARD_WORKERS overrides it.
cores = len(os.sched_getaffinity(0))
workers = int(os.environ.get("ISOGUARD_WORKERS") or min(2 * cores + 1, 9))
worker_class = "gthread"  # keep-alive connections, answered by one thread per worker
threads = 1
accesslog = "-"
errorlog = "-"
