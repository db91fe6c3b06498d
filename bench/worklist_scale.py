"""Time the clinic's worklist page and the reminder run on a seeded database (bench/seed.py).

    DATABASE_URL=postgres://... .venv/bin/python bench/worklist_scale.py [--runs 3]
        [--remind-runs 3] [--profile] [--skip-remind] [--skip-worklist]

The worklist: GET /worklist/ through Django's test client (every middleware, the view, the
template), logged in as the first prescriber of the clinic with the most patients; each run's
wall time and number of queries (CaptureQueriesContext), after one warm-up request. Then the
same request split into its parts (clinic_worklist alone, the page), and with --profile the
functions it spends its time in (cProfile, cumulative).

The reminders: `run_reminders(now, dry_run=True)`, what `isoguard remind --dry-run` runs, at
09:30 local time today (dose, step and mood reminders are all in their windows then); wall time,
queries and how many reminders it found. The process's peak memory is printed at the end, and
the load average (the machine may be shared: wall times come with the process's CPU times).

Prints one JSON object; the medians are what docs/benchmarks.md reports.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import io
import json
import os
import pstats
import resource
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "isoguard.settings")
    sys.path.insert(0, str(REPO / "src"))
    import django

    django.setup()


def vm(name: str) -> float:
    """VmHWM (peak) or VmRSS of this process, in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def median(values: list[float]) -> float:
    return round(statistics.median(values), 3)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--remind-runs", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--skip-remind", action="store_true")
    parser.add_argument("--skip-worklist", action="store_true")
    args = parser.parse_args(argv)
    setup_django()
    from django.db import connection
    from django.db.models import Count
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from isoguard.accounts.models import Organisation, User
    from isoguard.audit.models import AuditEvent
    from isoguard.courses import models as cm
    from isoguard.courses.worklist import clinic_worklist, listed_courses
    from isoguard.patients.models import Patient
    from isoguard.reminders.services import run_reminders

    today = timezone.localdate()
    clinic = (
        Organisation.objects.filter(kind="clinic")
        .annotate(n=Count("patients"))
        .order_by("-n", "pk")
        .first()
    )
    prescriber = User.objects.filter(organisation=clinic, role="prescriber").order_by("pk").first()
    events = sum(
        m.objects.count()
        for m in (cm.Consent, cm.ContraceptionPlan, cm.DosePlan, cm.Prescription, cm.Dispense,
                  cm.MedicationGuideAck, cm.PregnancyTest, cm.LabResult, cm.MonthlyCheck,
                  cm.MoodAssessment, cm.SymptomReport, cm.DoseDiaryEntry)
    )  # fmt: skip
    clinic_patients = Patient.objects.filter(clinic=clinic)
    out: dict[str, object] = {
        "loadavg_at_start": Path("/proc/loadavg").read_text().split()[:3],
        "database": connection.vendor,
        "patients": Patient.objects.count(),
        "clinical_events": events,
        "audit_events": AuditEvent.objects.count(),
        "clinic": {
            "name": clinic.name,
            "patients": clinic.n,
            "listed_courses": listed_courses(clinic_patients, today).count(),
            "prescriber": prescriber.username,
        },
        "all_listed_courses": listed_courses(Patient.objects.all(), today).count(),
    }

    if not args.skip_worklist:
        from django.conf import settings
        from django.core.management import call_command

        if not (Path(settings.STATIC_ROOT) / "staticfiles.json").exists():
            call_command("collectstatic", interactive=False, verbosity=0)  # as `make run` does
        client = Client(SERVER_NAME="127.0.0.1")
        client.force_login(prescriber)
        warm = client.get("/worklist/")
        assert warm.status_code == 200, (warm.status_code, warm.get("Location"))
        times, cpu, queries = [], [], []
        for _ in range(args.runs):
            with CaptureQueriesContext(connection) as captured:
                t0, c0 = time.perf_counter(), time.process_time()
                response = client.get("/worklist/")
                times.append(time.perf_counter() - t0)
                cpu.append(time.process_time() - c0)
            assert response.status_code == 200
            queries.append(len(captured.captured_queries))
        t0 = time.perf_counter()
        items = clinic_worklist(prescriber, today)
        selector_s = time.perf_counter() - t0
        out["worklist"] = {
            "runs_s": [round(t, 3) for t in times],
            "median_s": median(times),
            "cpu_s": [round(t, 3) for t in cpu],
            "median_cpu_s": median(cpu),
            "queries": queries,
            "items": len(items),
            "html_bytes": len(response.content),
            "clinic_worklist_alone_s": round(selector_s, 3),
            "peak_rss_mib_after_worklist": vm("VmHWM"),
        }
        if args.profile:
            profiler = cProfile.Profile()
            profiler.enable()
            client.get("/worklist/")
            profiler.disable()
            text = io.StringIO()
            pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(30)
            out["worklist_profile"] = text.getvalue().splitlines()[:80]

    if not args.skip_remind:
        now = timezone.make_aware(dt.datetime.combine(today, dt.time(9, 30)))
        times, cpu, queries, planned = [], [], [], 0
        for _ in range(args.remind_runs):
            with CaptureQueriesContext(connection) as captured:
                t0, c0 = time.perf_counter(), time.process_time()
                summary = run_reminders(now, dry_run=True)
                times.append(time.perf_counter() - t0)
                cpu.append(time.process_time() - c0)
            queries.append(len(captured.captured_queries))
            planned = len(summary.planned)
        out["remind_dry_run"] = {
            "now": now.isoformat(),
            "runs_s": [round(t, 3) for t in times],
            "median_s": median(times),
            "cpu_s": [round(t, 3) for t in cpu],
            "median_cpu_s": median(cpu),
            "queries": queries,
            "would_send": planned,
            "postponed": summary.postponed,
        }
        if args.profile:
            profiler = cProfile.Profile()
            profiler.enable()
            run_reminders(now, dry_run=True)
            profiler.disable()
            text = io.StringIO()
            pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(30)
            out["remind_profile"] = text.getvalue().splitlines()[:80]
    out["loadavg_at_end"] = Path("/proc/loadavg").read_text().split()[:3]
    out["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
