"""Time the clinic's worklist page and the reminder run on a seeded database (bench/seed.py).

    DATABASE_URL=postgres://... .venv/bin/python bench/worklist_scale.py [--runs 3]
        [--cold-runs 1] [--whole-runs 1] [--remind-runs 3] [--profile [--profile-timer cpu]]
        [--skip-remind] [--skip-worklist] [--skip-check] [--skip-refresh]

The worklist is paginated (courses/worklist.py worklist_page, 100 items a page) and ordered by
each course's CourseDue row (courses/due.py), which is trusted only while fresh: after midnight
every row is stale, so the first view of the day reads every listed course of the clinic and
stores its row again; later views read only the courses that can reach the page. Logged in as the
first prescriber of the clinic with the most patients, through Django's test client (every
middleware, the view, the template, the audit of the list), after one warm-up request:

- "cold": GET /worklist/ after every CourseDue row is made stale (`valid_until` emptied), i.e.
  the first view of the day (--cold-runs times, the rows made stale before each);
- "warm": GET /worklist/ again (--runs times), then ?page=5 and ?urgent=1 (--runs times each).

Each: wall time, the process's CPU time, queries (CaptureQueriesContext), HTML size and the rows
of the table. Then worklist_page() alone, warm (--runs times), and clinic_worklist() alone, the
whole list as the CSV export builds it (--whole-runs times); and, unless --skip-check, whether
worklist_page() gives the same items in the same order as the whole list (pages 1 and 5, and the
urgent filter). Then, unless --skip-refresh, `refresh_stale(now)` (what a real `isoguard
remind` run does to every clinic's stale rows, so that the first view of the day is not cold)
after every row is made stale again, and one page view after it. With --profile, the functions
the warm page, the cold page and the reminder run spend their time in (cProfile, cumulative; one
run each, after the timed runs).

The reminders: `run_reminders(now, dry_run=True)`, what `isoguard remind --dry-run` runs, at
09:30 local time today (dose, step and mood reminders are all in their windows then); wall time,
CPU time, queries and how many reminders it found.

Memory: the peak resident size of each part (VmHWM, reset before the part through
/proc/self/clear_refs when the kernel allows it, `peak_reset` says whether it did), and the
process's peak over the whole run (ru_maxrss). The load average is printed at the start, between
the parts and at the end (the machine may be shared: wall times come with CPU times).

Prints one JSON object; the medians are what docs/benchmarks.md reports.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import gc
import io
import json
import os
import pstats
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
PROFILE_LINES = 30


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


def reset_peak() -> bool:
    """Reset VmHWM to the current resident size (Linux >= 4.0); False if it could not."""
    gc.collect()
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def ru_maxrss_mib() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def loadavg() -> list[str]:
    return Path("/proc/loadavg").read_text().split()[:3]


def code_version() -> dict[str, Any]:
    """The commit measured, and the files of src/ that differ from it (the tree may be edited)."""

    git_path = shutil.which("git")

    def git(*args: str) -> str:
        if git_path is None:
            return ""
        done = subprocess.run([git_path, *args], cwd=REPO, capture_output=True, text=True)  # noqa: S603
        return done.stdout.strip()

    return {
        "commit": git("rev-parse", "--short", "HEAD"),
        "src_changed": git("status", "--porcelain", "--", "src").splitlines(),
    }


def median(values: list[float]) -> float:
    return round(statistics.median(values), 3)


def timed(
    call: Callable[[], Any], runs: int, before: Callable[[], None] | None = None
) -> tuple[dict[str, Any], Any]:
    """Run `call` `runs` times (`before` first each time, not timed); wall, CPU and queries of
    each run, and the last result."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    wall, cpu, queries, result = [], [], [], None
    for _ in range(runs):
        if before is not None:
            before()
        # Django keeps the last 9,000 queries: once full, a capture's count would read 0.
        connection.queries_log.clear()
        with CaptureQueriesContext(connection) as captured:
            t0, c0 = time.perf_counter(), time.process_time()
            result = call()
            wall.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
        queries.append(len(captured.captured_queries))
    return {
        "runs_s": [round(t, 3) for t in wall],
        "median_s": median(wall),
        "cpu_s": [round(t, 3) for t in cpu],
        "median_cpu_s": median(cpu),
        "queries": queries,
    }, result


def profiled(call: Callable[[], Any], timer: str = "wall") -> list[str]:
    """The top PROFILE_LINES functions by cumulative time; `timer` "cpu" counts the process's CPU
    time only (steadier on a loaded machine, but blind to the time spent waiting on the
    database)."""
    profiler = cProfile.Profile(time.process_time) if timer == "cpu" else cProfile.Profile()
    profiler.enable()
    call()
    profiler.disable()
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(PROFILE_LINES)
    return [line for line in text.getvalue().splitlines() if line.strip()][: PROFILE_LINES + 10]


def item_key(item: Any) -> tuple[Any, ...]:
    """What a worklist item shows, to compare two lists of them."""
    return (item.patient.pk, item.kind, item.who, item.what, item.due, item.urgency,
            getattr(item.course, "pk", None), getattr(item.report, "pk", None),
            getattr(item.lab, "pk", None))  # fmt: skip


def compare(page: list[Any], whole: list[Any]) -> dict[str, Any]:
    """Whether the page is the same slice of the whole list, item for item; if not, where the
    two first part and whether they are at least the same items."""
    got, want = [item_key(i) for i in page], [item_key(i) for i in whole]
    out: dict[str, Any] = {"equal": got == want, "page_items": len(got), "expected": len(want)}
    if got != want:
        first = next((n for n, (a, b) in enumerate(zip(got, want, strict=False)) if a != b),
                     min(len(got), len(want)))  # fmt: skip
        out["first_difference_at"] = first
        out["same_items_any_order"] = sorted(map(repr, got)) == sorted(map(repr, want))
        out["differing_positions"] = sum(a != b for a, b in zip(got, want, strict=False))
        if first < min(len(got), len(want)):
            out["page_item"] = [str(v) for v in got[first]]
            out["whole_list_item"] = [str(v) for v in want[first]]
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="warm runs of each page")
    parser.add_argument("--cold-runs", type=int, default=1, help="first views of the day")
    parser.add_argument("--whole-runs", type=int, default=1, help="runs of clinic_worklist()")
    parser.add_argument("--remind-runs", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--profile-timer", choices=("wall", "cpu"), default="wall")
    parser.add_argument("--skip-remind", action="store_true")
    parser.add_argument("--skip-worklist", action="store_true")
    parser.add_argument("--skip-check", action="store_true")
    parser.add_argument("--skip-refresh", action="store_true")
    args = parser.parse_args(argv)
    setup_django()
    from django.db import connection
    from django.db.models import Count
    from django.test import Client
    from django.utils import timezone

    from isoguard.accounts.models import Organisation, User
    from isoguard.audit.models import AuditEvent
    from isoguard.courses import models as cm
    from isoguard.courses import worklist as wl
    from isoguard.courses.worklist import clinic_worklist, listed_courses, worklist_page
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
    clinic_courses = listed_courses(clinic_patients, today)
    out: dict[str, Any] = {
        "loadavg_at_start": loadavg(),
        "code": code_version(),
        "database": connection.vendor,
        "database_name": connection.settings_dict.get("NAME"),
        "today": today.isoformat(),
        "patients": Patient.objects.count(),
        "courses": cm.Course.objects.count(),
        "course_due_rows": cm.CourseDue.objects.count(),
        "clinical_events": events,
        "audit_events": AuditEvent.objects.count(),
        "clinic": {
            "name": clinic.name,
            "patients": clinic.n,
            "listed_courses": clinic_courses.count(),
            "prescriber": prescriber.username,
        },
        "all_listed_courses": listed_courses(Patient.objects.all(), today).count(),
        "page_size": wl.PAGE_SIZE,
    }

    def stale_rows() -> int:
        """The clinic's listed courses whose CourseDue row is not fresh now (or missing)."""
        from isoguard.courses import due

        fresh = clinic_courses.filter(due.fresh(timezone.localtime())).count()
        return out["clinic"]["listed_courses"] - fresh

    def make_stale() -> None:
        cm.CourseDue.objects.update(valid_until=None)  # as after midnight: every row is stale

    if not args.skip_worklist:
        from django.conf import settings
        from django.core.management import call_command

        if not (Path(settings.STATIC_ROOT) / "staticfiles.json").exists():
            call_command("collectstatic", interactive=False, verbosity=0)  # as `make run` does
        client = Client(SERVER_NAME="127.0.0.1")
        client.force_login(prescriber)
        out["peak_reset"] = reset_peak()
        rss_before = vm("VmRSS")
        out["stale_rows_before_warm_up"] = stale_rows()
        t0 = time.perf_counter()
        first = client.get("/worklist/")  # the warm-up (imports, template), whatever the rows say
        out["warm_up_request_s"] = round(time.perf_counter() - t0, 3)
        assert first.status_code == 200, (first.status_code, first.get("Location"))

        def page(path: str) -> Callable[[], Any]:
            def get() -> Any:
                response = client.get(path)
                assert response.status_code == 200, (path, response.status_code)
                return response

            return get

        def with_html(stats: dict[str, Any], response: Any) -> dict[str, Any]:
            return stats | {
                "html_bytes": len(response.content),
                "rows": response.content.count(b'data-testid="due-row"'),
            }

        pages: dict[str, Any] = {}
        stats, response = timed(page("/worklist/"), args.cold_runs, before=make_stale)
        pages["cold_page1"] = with_html(stats, response) | {"stale_rows_after": stale_rows()}
        for name, path in (("warm_page1", "/worklist/"), ("warm_page5", "/worklist/?page=5"),
                           ("warm_urgent", "/worklist/?urgent=1")):  # fmt: skip
            stats, response = timed(page(path), args.runs)
            pages[name] = with_html(stats, response)
        out["worklist_page_view"] = pages
        out["load_after_page_views"] = loadavg()

        alone: dict[str, Any] = {}
        results: dict[str, Any] = {}
        for name, options in (("page1", {}), ("page5", {"number": 5}),
                              ("urgent", {"urgent_only": True})):  # fmt: skip
            stats, result = timed(lambda o=options: worklist_page(prescriber, today, **o),
                                  args.runs)  # fmt: skip
            alone[name] = stats | {"items": len(result.items), "more": result.more}
            results[name] = result
        out["worklist_page_alone_warm"] = alone
        out["peak_rss_mib_pages"] = vm("VmHWM")
        out["rss_mib_before_pages"] = rss_before

        reset_peak()
        stats, whole = timed(lambda: clinic_worklist(prescriber, today), args.whole_runs)
        out["clinic_worklist_alone"] = stats | {
            "items": len(whole),
            "peak_rss_mib": vm("VmHWM"),
        }
        out["load_after_worklist"] = loadavg()

        if not args.skip_check:
            size = wl.PAGE_SIZE
            urgent = [i for i in whole
                      if wl.URGENCY[i.urgency] <= wl.URGENCY["report_call_today"]]  # fmt: skip
            out["page_equals_whole_list"] = {
                "page1_vs_whole[0:100]": compare(results["page1"].items, whole[:size]),
                "page5_vs_whole[400:500]": compare(
                    results["page5"].items, whole[4 * size : 5 * size]
                ),
                "urgent_page1_vs_urgent_whole[0:100]": compare(
                    results["urgent"].items, urgent[:size]
                ),
                "more_flags": {
                    "page1": [results["page1"].more, len(whole) > size],
                    "page5": [results["page5"].more, len(whole) > 5 * size],
                    "urgent": [results["urgent"].more, len(urgent) > size],
                },
                "urgent_items_whole_list": len(urgent),
            }
        del whole, results

        refresh_stale = getattr(wl, "refresh_stale", None)
        if not args.skip_refresh and refresh_stale is not None:
            reset_peak()
            stats, read = timed(lambda: refresh_stale(timezone.localtime()), 1, before=make_stale)
            out["refresh_stale_all_clinics"] = stats | {
                "courses_read": read,
                "peak_rss_mib": vm("VmHWM"),
                "clinic_stale_rows_after": stale_rows(),
            }
            stats, response = timed(page("/worklist/"), 1)
            out["page1_after_refresh"] = with_html(stats, response)

        if args.profile:
            out["profile_timer"] = args.profile_timer
            out["profile_warm_page1"] = profiled(page("/worklist/"), args.profile_timer)
            make_stale()
            out["profile_cold_page1"] = profiled(page("/worklist/"), args.profile_timer)

    if not args.skip_remind:
        now = timezone.make_aware(dt.datetime.combine(today, dt.time(9, 30)))
        out["load_before_remind"] = loadavg()
        reset_ok = reset_peak()
        out["rss_mib_before_remind"] = vm("VmRSS")
        stats, summary = timed(lambda: run_reminders(now, dry_run=True), args.remind_runs)
        out["remind_dry_run"] = {
            "now": now.isoformat(),
            **stats,
            "would_send": len(summary.planned),
            "postponed": summary.postponed,
            "peak_rss_mib": vm("VmHWM") if reset_ok else None,
        }
        if args.profile:
            out["profile_timer"] = args.profile_timer
            out["profile_remind"] = profiled(
                lambda: run_reminders(now, dry_run=True), args.profile_timer
            )
    out["loadavg_at_end"] = loadavg()
    out["code_at_end"] = code_version()
    out["peak_rss_mib"] = ru_maxrss_mib()  # the whole process, every part
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
