"""A batch of writes for the fault tests: side-effect reports, one committed after another.

Run by tests/operations/test_faults.py as a separate process (`python -m tests.operations.writer
PATIENT_ID USERNAME COUNT`), with DATABASE_URL pointing at the test database; it prints
`committed <id>` after each report is stored, so the test knows what was committed when it kills
the process."""

from __future__ import annotations

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "isoguard.settings")
    import django

    django.setup()
    from isoguard.accounts.models import User
    from isoguard.courses.report_services import report_submit

    patient_id, username, count = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    user = User.objects.get(username=username)
    print("ready", flush=True)
    for n in range(count):
        report = report_submit(
            user=user, patient_id=patient_id,
            text=f"my lips are dry and cracked ({n}); I have a headache and blurred vision",
        )  # fmt: skip
        print(f"committed {report.pk}", flush=True)


if __name__ == "__main__":
    main()
