"""Measure the triage on a labelled set: level accuracy, under- and over-triage, concept F1, and
time per report.

    .venv/bin/python bench/triage_dev.py [tests/data/triage/dev.jsonl] [--errors]

The sets: dev.jsonl (the project's development set) and holdout*.jsonl (written independently from
the rubric, each before the triage had seen it; see docs/triage.md for the number measured on each
while it was still unseen).
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

RANK = {
    "none": 0,
    "self_care": 1,
    "tell_prescriber": 2,
    "call_today": 3,
    "stop_and_call": 4,
    "emergency": 5,
}


def main(argv: list[str]) -> int:
    started = time.perf_counter()
    from isoguard.core.triage import load_triage, triage

    load_triage()
    load_seconds = time.perf_counter() - started
    paths = [a for a in argv if not a.startswith("--")]
    path = Path(paths[0] if paths else "tests/data/triage/dev.jsonl")
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    right = under = over = urgent_under = urgent_off_worklist = 0
    tp = fp = fn = 0
    times = []
    for row in rows:
        t0 = time.perf_counter()
        result = triage(row["text"])
        times.append(time.perf_counter() - t0)
        got, want = RANK[result.level], RANK[row["level"]]
        right += got == want
        under += got < want
        over += got > want
        urgent_under += want >= RANK["stop_and_call"] and got < want
        # In the app a report reaches the clinic's worklist at call_today and above, or when the
        # triage found nothing in its words (it is then read by hand).
        reaches_clinic = got >= RANK["call_today"] or not result.concepts
        urgent_off_worklist += want >= RANK["stop_and_call"] and not reaches_clinic
        found, expected = {c.id for c in result.concepts}, set(row["concepts"])
        tp += len(found & expected)
        fp += len(found - expected)
        fn += len(expected - found)
        if "--errors" in argv and (got != want or found != expected):
            print(
                f"{row['id']} got {result.level} {sorted(found)} want {row['level']} "
                f"{sorted(expected)} | {row['text'][:110]}"
            )
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    p95 = statistics.quantiles(times, n=20)[18] * 1000
    print(
        f"reports {len(rows)}  level accuracy {right / len(rows):.3f}  under-triage {under}  "
        f"(urgent under-triaged {urgent_under}, of which off the app's worklist "
        f"{urgent_off_worklist})  over-triage {over / len(rows):.3f}  "
        f"concept F1 {f1:.3f}  p95 {p95:.2f} ms  load {load_seconds:.2f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
