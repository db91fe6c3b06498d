"""Triage throughput on one core, and the memory of a serving process.

    .venv/bin/python bench/triage_throughput.py [--runs 5] [--passes 5] [--skip-serve]
        [--set tests/data/triage/dev.jsonl] [--requests 200]

1. Throughput: this process pinned to one CPU (sched_setaffinity), the triage loaded and run
   once over the set (warm-up), then `--runs` times over the set `--passes` times: reports per
   second by the wall clock and by the process's CPU time (the second does not count time the
   core spent on other work, on a shared machine). Texts only, as the app triages a report
   without ticks. `--join 10` makes each report ten texts of the set long (how the cost grows
   with the length of a report; the number of reports stored does not enter it).
2. Memory: gunicorn started as `make run` starts it (`gunicorn.conf.py`) on a fresh SQLite
   database with the demo (bench/load_dispense.py's set-up); VmRSS of the master and each worker
   just after start, then after `--requests` requests of each of: GET /healthz, GET /api/v1/me,
   POST /api/v1/prescriptions/{id}/dispense-authorisations (a pharmacist's token), POST
   /api/v1/patients/{id}/symptom-reports (a patient's token: stored and triaged) and GET
   /api/v1/worklist (a prescriber's token), 8 at a time.

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def throughput(path: Path, runs: int, passes: int, join: int = 1) -> dict[str, object]:
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    from isoguard.core.triage import load_triage, triage

    t0 = time.perf_counter()
    load_triage()
    load_s = time.perf_counter() - t0
    texts = [json.loads(line)["text"] for line in path.read_text().splitlines() if line.strip()]
    if join > 1:  # longer reports: each is `join` texts of the set, one after the other
        texts = [" ".join(texts[i : i + join]) for i in range(0, len(texts), join)]
    for text in texts:  # warm-up
        triage(text)
    wall, cpu = [], []
    for _ in range(runs):
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(passes):
            for text in texts:
                triage(text)
        n = len(texts) * passes
        wall.append(n / (time.perf_counter() - t0))
        cpu.append(n / (time.process_time() - c0))
    return {
        "set": str(path.relative_to(REPO)),
        "texts_joined": join,
        "reports_per_run": len(texts) * passes,
        "mean_chars": round(statistics.mean(len(t) for t in texts)),
        "cpu": sorted(os.sched_getaffinity(0)),
        "load_s": round(load_s, 3),
        "wall_reports_per_s": [round(r) for r in wall],
        "cpu_reports_per_s": [round(r) for r in cpu],
        "median_wall_reports_per_s": round(statistics.median(wall)),
        "median_cpu_reports_per_s": round(statistics.median(cpu)),
    }


PATIENT = """
import json
from isoguard.accounts.models import User
from isoguard.patients.models import Patient
alice = Patient.objects.get(user__username="alice")
print(json.dumps({"patient_id": alice.pk}))
"""


def serve(requests: int, port: int) -> dict[str, object]:
    import httpx
    import load_dispense as ld

    tmp = Path(tempfile.mkdtemp(prefix="isoguard-rss-"))
    env = {**os.environ, "ISOGUARD_VAR_DIR": str(tmp / "var")}
    env.pop("DATABASE_URL", None)
    target = ld.prepare(env)
    patient_id = json.loads(ld.isoguard(env, "shell", "-c", PATIENT).strip().splitlines()[-1])[
        "patient_id"
    ]
    tokens = {
        who: ld.isoguard(env, "token", "create", "--user", who, "--name", "bench rss")
        .strip()
        .splitlines()[-1]
        for who in ("alice", "dr.rivera")
    }
    server = ld.start_gunicorn(env, port, tmp / "gunicorn.log")
    base = f"http://127.0.0.1:{port}"
    out: dict[str, object] = {"rss_mib_at_start": ld.rss(server.pid)}
    lines = (REPO / "tests/data/triage/dev.jsonl").read_text().splitlines()
    texts = [json.loads(line)["text"] for line in lines if line.strip()]
    ids = list(target["ids"])  # type: ignore[call-overload]
    statuses: dict[str, dict[int, int]] = {}

    def auth(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    calls = {
        "healthz": lambda c, i: c.get("/healthz"),
        "me": lambda c, i: c.get("/api/v1/me", headers=auth(str(target["token"]))),
        "dispense_authorisation": lambda c, i: c.post(
            f"/api/v1/prescriptions/{ids[i % len(ids)]}/dispense-authorisations",
            headers=auth(str(target["token"])),
        ),
        "symptom_report": lambda c, i: c.post(
            f"/api/v1/patients/{patient_id}/symptom-reports",
            json={"text": texts[i % len(texts)], "symptoms": []},
            headers=auth(tokens["alice"]),
        ),
        "worklist_api": lambda c, i: c.get("/api/v1/worklist", headers=auth(tokens["dr.rivera"])),
    }
    try:
        with httpx.Client(base_url=base, timeout=60) as client:
            for name, call in calls.items():
                with ThreadPoolExecutor(8) as pool:
                    codes = list(pool.map(lambda i, call=call: call(client, i).status_code,
                                          range(requests)))  # fmt: skip
                statuses[name] = {c: codes.count(c) for c in set(codes)}
        out["requests_each"] = requests
        out["statuses"] = statuses
        out["rss_mib_after"] = ld.rss(server.pid)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", default="tests/data/triage/dev.jsonl")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--passes", type=int, default=5)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--skip-serve", action="store_true")
    parser.add_argument("--join", type=int, default=1, help="each report: N texts joined")
    args = parser.parse_args(argv)
    out: dict[str, object] = {"loadavg_at_start": Path("/proc/loadavg").read_text().split()[:3]}
    if not args.skip_serve:
        # First, in a child process tree of its own: this process is pinned to one CPU after.
        out["serving"] = serve(args.requests, args.port)
    out["triage"] = throughput(REPO / args.set, args.runs, args.passes, args.join)
    out["loadavg_at_end"] = Path("/proc/loadavg").read_text().split()[:3]
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
