"""Fill an empty, migrated database with N patients and their treatment history, fast.

    DATABASE_URL=postgres://... .venv/bin/python bench/seed.py --patients 100000

For the scale benchmarks (`worklist_scale.py`, `load_dispense.py --db`): N patients spread over
`--clinics` clinics (clinic k holds a share proportional to 1/k, so the biggest clinic has about
28 % of the patients with 20 clinics), each clinic with two prescribers, one member of staff and
a pharmacy with one pharmacist, in the US (iPLEDGE 2026), the EU (PPP 2018) or the UK (MHRA 2026).

What each patient has, by the state of their course on `--today` (default: today):

- 40 % consulted but never started (a course stopped before a first dose): screening labs, a mood
  screen, a pregnancy test for those who can become pregnant;
- 20 % in screening (opened in the last 90 days), with the same;
- 18 % on treatment, 0 to 5 months in; 14 % completed a 4 to 6 month course; 8 % stopped after
  1 to 3 months (ended courses end up to four years ago, so a few are still on the worklist).

A started course has its enrolment (consents, contraception plan and a clinic pregnancy test for
those who can become pregnant), a dose plan from the core's planner, baseline and peak labs (2 %
of triglycerides over a threshold, half of those not yet reviewed) and one cycle a month: the
pregnancy test and comprehension check (those who can become pregnant), counselling, a mood
screen, the prescription, the dispense with its Medication Guide acknowledgement (US) and the
pharmacy's programme decision. 15 % of those on treatment keep a dose diary (the last 28 days),
8 % of patients sent a side-effect report (texts of the triage dev set, triaged as the app does),
and the audit trail has each patient's creation, each dispense authorisation and record views.

Every row is written with its id chosen here, by COPY on PostgreSQL (executemany on SQLite), in
chunks of patients, parents before children so every foreign key holds. The model constraints
(checks, unique keys) are the database's and are enforced during the load.
"""

# ruff: noqa: S105, S311, S608  (a benchmark: a dummy password, random data, table names)

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import sys
import time
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
PACKS = {"US": "us-ipledge-2026", "EU": "eu-ppp-2018", "UK": "uk-mhra-2026"}
PRODUCTS = {
    "US": ["claravis", "absorica", "amnesteem", "zenatane", "myorisan"],
    "EU": ["isotretinoin", "roaccutane"],
    "UK": ["isotretinoin", "roaccutane"],
}
GIVEN_F = "Alice Chloe Erin Fatima Grace Hana Isla Jade Kira Lena Maya Nora Olga Priya Rosa Sara"
GIVEN_M = "Ben Dev Ethan Felix Hugo Ivan Jonah Kai Leo Marco Nils Omar Paul Ravi Sam Tom"
FAMILY = "Moreno Okafor Tan Patel Walsh Rahman Smith Garcia Kim Nguyen Muller Rossi Silva Kowalski"
CONTRACEPTION = [("iud", "male_condom"), ("implant", "male_condom"),
                 ("combined_pill", "male_condom"), ("abstinence",)]  # fmt: skip
PASSWORD = "bench-password-not-for-login"

# The order tables are written in: every row's parents come before it.
ORDER = [
    "accounts.Organisation", "accounts.User", "patients.Patient", "patients.PregnancyPotential",
    "patients.WeightMeasurement", "patients.Diagnosis", "reminders.ContactPreference",
    "courses.Course", "courses.Consent", "courses.ContraceptionPlan", "courses.DosePlan",
    "courses.Prescription", "courses.Dispense", "courses.MedicationGuideAck",
    "courses.PregnancyTest", "courses.LabResult", "courses.MonthlyCheck",
    "courses.MoodAssessment", "courses.SymptomReport", "courses.DoseDiaryEntry",
    "courses.ProgrammeDecision", "audit.AuditEvent",
]  # fmt: skip
EVENT_TABLES = [
    "courses.Consent", "courses.ContraceptionPlan", "courses.DosePlan", "courses.Prescription",
    "courses.Dispense", "courses.MedicationGuideAck", "courses.PregnancyTest",
    "courses.LabResult", "courses.MonthlyCheck", "courses.MoodAssessment",
    "courses.SymptomReport", "courses.DoseDiaryEntry",
]  # fmt: skip
"""The clinical events (what the rule engine or the clinic reads); decisions and audit apart."""


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "isoguard.settings")
    sys.path.insert(0, str(REPO / "src"))
    import django

    django.setup()


class Writer:
    """Rows by model, ids chosen here, written in ORDER by COPY (PostgreSQL) or executemany."""

    def __init__(self) -> None:
        from django.apps import apps
        from django.db import connection, models

        self.connection = connection
        self.models = {label: apps.get_model(label) for label in ORDER}
        self.rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.counts: Counter[str] = Counter()
        self.next_id: dict[str, int] = {}
        self.fields: dict[str, list[Any]] = {}
        self.defaults: dict[str, dict[str, Any]] = {}
        with connection.cursor() as cursor:
            for label, model in self.models.items():
                cursor.execute(
                    f"SELECT MAX(id) FROM {connection.ops.quote_name(model._meta.db_table)}"
                )
                self.next_id[label] = (cursor.fetchone()[0] or 0) + 1
                fields = list(model._meta.concrete_fields)
                self.fields[label] = fields
                # A column not given takes the field's default ("" for text, None if nullable).
                self.defaults[label] = {f.attname: f.get_default() for f in fields}
        self.json_fields = {
            label: {f.attname for f in fields if isinstance(f, models.JSONField)}
            for label, fields in self.fields.items()
        }
        self.stamp_fields = {
            label: [
                f.attname
                for f in fields
                if isinstance(f, models.DateTimeField) and (f.auto_now or f.auto_now_add)
            ]
            for label, fields in self.fields.items()
        }
        self.postgres = connection.vendor == "postgresql"

    def add(self, label: str, at: dt.datetime, **values: Any) -> int:
        """Queue one row; `at` fills the auto_now(_add) timestamps not given. Returns its id."""
        row_id = values["id"] = self.next_id[label]
        self.next_id[label] += 1
        for name in self.stamp_fields[label]:
            values.setdefault(name, at)
        self.rows[label].append(values)
        return row_id

    def flush(self) -> None:
        for label in ORDER:
            rows = self.rows.pop(label, [])
            if rows:
                self._write(label, rows)
                self.counts[label] += len(rows)

    def _write(self, label: str, rows: list[dict[str, Any]]) -> None:
        fields, defaults, json_fields = (
            self.fields[label],
            self.defaults[label],
            self.json_fields[label],
        )
        quote = self.connection.ops.quote_name
        table = quote(self.models[label]._meta.db_table)
        columns = ", ".join(quote(f.column) for f in fields)

        def values(row: dict[str, Any]) -> list[Any]:
            out = []
            for f in fields:
                name = f.attname
                value = row[name] if name in row else defaults[name]
                if name in json_fields:
                    value = json.dumps(value)
                out.append(value)
            return out

        with self.connection.cursor() as cursor:
            if self.postgres:
                with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(values(row))
            else:
                prepared = [
                    [f.get_db_prep_save(v, self.connection) if f.attname not in json_fields else v
                     for f, v in zip(fields, values(row), strict=True)]
                    for row in rows
                ]  # fmt: skip
                marks = ", ".join(["%s"] * len(fields))
                cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", prepared)

    def finish(self) -> None:
        """Move each id sequence past the rows written."""
        if not self.postgres:
            return
        with self.connection.cursor() as cursor:
            for model in self.models.values():
                table = model._meta.db_table
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence(%s, 'id'), "
                    f"(SELECT COALESCE(MAX(id), 1) FROM {self.connection.ops.quote_name(table)}))",
                    [table],
                )
            cursor.execute("ANALYZE")


class Seeder:
    def __init__(self, w: Writer, rng: random.Random, today: dt.date) -> None:
        from django.contrib.auth.hashers import make_password
        from django.utils import timezone

        from isoguard.core.knowledge.codes import load_codes
        from isoguard.core.labs import check_result, load_labs

        self.w, self.rng, self.today = w, rng, today
        self.tz = timezone.get_current_timezone()
        self.password = make_password(PASSWORD)
        codes = load_codes()
        self.loinc = {t: codes.lab_test(t).loinc for t in ("triglycerides", "alt")}
        self.labs = load_labs()
        self.check_result = check_result
        self.plans: dict[tuple[Any, ...], Any] = {}
        self.reports = self._triaged_texts()
        self.clinics: list[dict[str, Any]] = []
        self.users = 0
        self.usernames: dict[int, str] = {}

    # --- helpers ---------------------------------------------------------------------------------

    def at(self, day: dt.date, hour: int = 10) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(hour, self.rng.randrange(60)), tzinfo=self.tz)

    def user(self, role: str, org: int | None, first: str, last: str) -> int:
        self.users += 1
        username = f"{role}{self.users}"
        user_id = self.w.add(
            "accounts.User", self.at(self.today - dt.timedelta(days=1500)),
            password=self.password, username=username, first_name=first,
            last_name=last, email="", is_staff=False, is_superuser=False, is_active=True,
            date_joined=self.at(self.today - dt.timedelta(days=1500)), last_login=None,
            role=role, organisation_id=org, phone="", professional_id="",
        )  # fmt: skip
        self.usernames[user_id] = username
        return user_id

    def audit(self, day: dt.date, actor: int | None, action: str, obj: str, obj_id: int,
              patient: int | None, **detail: Any) -> None:  # fmt: skip
        self.w.add(
            "audit.AuditEvent", self.at(day), actor_id=actor,
            actor_username=self.usernames[actor] if actor else "", action=action, object_type=obj,
            object_id=str(obj_id), patient_id=patient, outcome="allowed", reason="",
            detail=detail, ip_address="127.0.0.1", path="",
        )  # fmt: skip

    def _triaged_texts(self) -> list[dict[str, Any]]:
        """The dev set's texts, triaged once each as report_triage does."""
        from isoguard.core.triage import load_triage, triage

        knowledge = load_triage()
        out = []
        path = REPO / "tests" / "data" / "triage" / "dev.jsonl"
        for line in path.read_text().splitlines():
            if not line.strip():
                continue
            text = json.loads(line)["text"]
            result = triage(text)
            concepts = [{"id": c.id, "level": c.level, "evidence": c.evidence}
                        for c in result.concepts]  # fmt: skip
            priority = knowledge.rank(result.level)
            if not concepts:
                priority = max(priority, knowledge.rank("call_today"))
            out.append({"text": text, "level": result.level, "priority": priority,
                        "concepts": concepts})  # fmt: skip
        return out

    def plan(self, weight: Decimal, product: str, start: dt.date, exact: bool) -> Any:
        from isoguard.core.dosing import plan_course

        key = (weight, product, start if exact else None)
        if key not in self.plans:
            self.plans[key] = plan_course(weight_kg=float(weight), product=product, start=start,
                                          mg_per_kg_day=1.0, target_mg_per_kg=120)  # fmt: skip
        return self.plans[key]

    def lab_findings(self, test: str, value: Decimal, unit: str) -> list[dict[str, Any]]:
        found = self.check_result(test, float(value), unit)
        return [{"level": f.level.value, "action": f.action, "source": f.source,
                 "threshold": f"{f.threshold.value:g} {f.threshold.unit}"}
                for f in found]  # fmt: skip

    # --- organisations ---------------------------------------------------------------------------

    def organisations(self, count: int) -> None:
        regions = ["US"] * 14 + ["EU"] * 3 + ["UK"] * 3
        for k in range(count):
            region = regions[k % len(regions)]
            at = self.at(self.today - dt.timedelta(days=2000))
            clinic = self.w.add("accounts.Organisation", at, name=f"Clinic {k + 1:02d}",
                                kind="clinic", jurisdiction=region, phone="+1 555 0100",
                                address="", external=False)  # fmt: skip
            pharmacy = self.w.add("accounts.Organisation", at, name=f"Pharmacy {k + 1:02d}",
                                  kind="pharmacy", jurisdiction=region, phone="+1 555 0199",
                                  address="", external=False)  # fmt: skip
            prescribers = [self.user("prescriber", clinic, "Dr", f"P{k}-{i}") for i in (1, 2)]
            staff = self.user("clinic_staff", clinic, "Nurse", f"S{k}")
            pharmacist = self.user("pharmacist", pharmacy, "Pharm", f"F{k}")
            self.clinics.append({
                "id": clinic, "pharmacy": pharmacy, "region": region, "prescribers": prescribers,
                "staff": staff, "pharmacist": pharmacist, "weight": 1 / (k + 1), "patients": 0,
            })  # fmt: skip
        self.w.flush()

    # --- one patient -----------------------------------------------------------------------------

    def patient(self, n: int) -> None:
        rng, w, today = self.rng, self.w, self.today
        clinic = rng.choices(self.clinics, weights=[c["weight"] for c in self.clinics])[0]
        clinic["patients"] += 1
        region = clinic["region"]
        prescriber = rng.choice(clinic["prescribers"])
        roll = rng.random()
        gender = "female" if roll < 0.5 else "male" if roll < 0.98 else "other"
        cbp = (gender == "female" and rng.random() < 0.85) or (gender == "other" and roll < 0.99)
        age = rng.choice([15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 27, 30, 34, 38])
        birth = today - dt.timedelta(days=age * 365 + rng.randrange(300))
        given = rng.choice((GIVEN_F if gender == "female" else GIVEN_M).split())
        family = rng.choice(FAMILY.split())
        state = rng.choices(["never", "screening", "active", "completed", "stopped"],
                            weights=[40, 20, 18, 14, 8])[0]  # fmt: skip
        months = {"active": rng.randrange(6), "completed": rng.randint(4, 6),
                  "stopped": rng.randint(1, 3)}.get(state, 0)  # fmt: skip
        # When the course began (its first dose), or the screening visit for a course not started.
        if state == "active":
            first = today - dt.timedelta(days=months * 30 + rng.randrange(1, 30))
            last = None
        elif state in ("completed", "stopped"):
            last = today - dt.timedelta(days=rng.randrange(1, 1460))
            first = last - dt.timedelta(days=months * 30 - 1)
        else:
            first = last = None
        seen = first or today - dt.timedelta(days=rng.randrange(1, 90 if state == "screening"
                                                                 else 1460))  # fmt: skip
        enrolled = first - dt.timedelta(days=rng.randrange(7, 30)) if first else None
        opened = (enrolled or seen) - dt.timedelta(days=10)
        account = self.user("patient", None, given, family) if rng.random() < 0.5 else None
        recorder = account or prescriber
        email = f"p{n}@example.org" if rng.random() < 0.7 else ""
        pid = w.add("patients.Patient", self.at(opened), clinic_id=clinic["id"], user_id=account,
                    given_name=given, family_name=family, birth_date=birth, jurisdiction=region,
                    administrative_gender=gender, clinic_record_number=f"R-{n}",
                    phone="+1 555 0142" if rng.random() < 0.6 else "", email=email,
                    country="")  # fmt: skip
        self.audit(opened, prescriber, "create", "patients.patient", pid, pid)
        w.add("patients.PregnancyPotential", self.at(opened), patient_id=pid,
              can_become_pregnant=cbp, reason="Has periods" if cbp else "No uterus or ovaries",
              assessed_on=opened, assessed_by_id=prescriber)  # fmt: skip
        weight = Decimal(rng.randrange(48, 100))
        w.add("patients.WeightMeasurement", self.at(opened), patient_id=pid, measured_on=opened,
              weight_kg=weight, recorded_by_id=prescriber)  # fmt: skip
        w.add("patients.Diagnosis", self.at(opened), patient_id=pid, icd10_code="L70.0",
              description="Severe recalcitrant nodular acne", recorded_on=opened,
              recorded_by_id=prescriber)  # fmt: skip
        diary = state == "active" and rng.random() < 0.15
        if rng.random() < 0.3 or diary:
            w.add("reminders.ContactPreference", self.at(opened), patient_id=pid, in_app=True,
                  by_email=bool(email), by_sms=False, dose_reminders=diary,
                  updated_by_id=account)  # fmt: skip
        product = rng.choice(PRODUCTS[region])
        status = {"never": "stopped"}.get(state, state)
        cid = w.add("courses.Course", self.at(opened), patient_id=pid, number=1, product=product,
                    rule_pack=PACKS[region], indication_icd10="L70.0", status=status,
                    prescriber_id=prescriber, enrolled_on=enrolled, first_dose_on=first,
                    last_dose_on=last, target_mg_per_kg=120,
                    stopped_reason="did not start" if state == "never" else
                    "side effects" if state == "stopped" else "")  # fmt: skip
        ctx = {"pid": pid, "cid": cid, "recorder": recorder, "prescriber": prescriber,
               "clinic": clinic, "age": age, "region": region}  # fmt: skip
        # Screening: labs, a mood screen and, for those who can become pregnant, a test.
        self.baseline(ctx, opened, cbp)
        if first is None:
            return
        self.enrolment(ctx, enrolled, cbp)
        plan = self.plan(weight, product, first, exact=state == "active")
        morning, evening = (d.mg for d in plan.daily.doses)
        w.add("courses.DosePlan", self.at(first), course_id=cid, effective_from=first,
              weight_kg=weight, mg_per_kg_day=Decimal("1.00"), target_mg_per_kg=120,
              daily_mg=morning + evening, morning_mg=morning, evening_mg=evening,
              plan=plan.to_dict(), reason="", set_by_id=prescriber)  # fmt: skip
        end = last or today
        for m in range(months + 1):
            day = first + dt.timedelta(days=30 * m - 2)
            if day > end or (last is not None and m == months):
                break
            self.cycle(ctx, day, cbp, morning + evening, is_last=day + dt.timedelta(30) > today)
        peak = first + dt.timedelta(days=60)
        if peak <= end:
            self.lab(ctx, peak, abnormal=rng.random() < 0.02)
        if diary:
            for back in range(1, min(28, (today - first).days) + 1):
                day = today - dt.timedelta(days=back)
                for time_, mg in (("morning", morning), ("evening", evening)):
                    w.add("courses.DoseDiaryEntry", self.at(day, 21), course_id=cid, day=day,
                          time=time_, taken=rng.random() < 0.95, dose_mg=mg,
                          recorded_by_id=recorder)  # fmt: skip
        if rng.random() < 0.08 / 0.4:  # 8 % of all patients: those with a course begun
            self.report(ctx, first, end)

    def baseline(self, ctx: dict[str, Any], day: dt.date, cbp: bool) -> None:
        self.lab(ctx, day, abnormal=False, course=ctx["cid"])
        self.mood(ctx, day)
        if cbp:
            self.pregnancy_test(ctx, day, "clinic")

    def enrolment(self, ctx: dict[str, Any], day: dt.date, cbp: bool) -> None:
        w, cid = self.w, ctx["cid"]
        kinds = ["informed_consent"] + (["pregnancy_prevention"] if cbp else [])
        for kind in kinds:
            w.add("courses.Consent", self.at(day), course_id=cid, kind=kind, signed_on=day,
                  document_version="forms 2026 (bench)", guardian_signed=ctx["age"] < 18,
                  recorded_by_id=ctx["prescriber"])  # fmt: skip
        if cbp:
            w.add("courses.ContraceptionPlan", self.at(day), course_id=cid,
                  methods=list(self.rng.choice(CONTRACEPTION)),
                  start=day - dt.timedelta(days=35), end=None,
                  recorded_by_id=ctx["prescriber"])  # fmt: skip
            self.pregnancy_test(ctx, day, "clinic")

    def cycle(self, ctx: dict[str, Any], day: dt.date, cbp: bool, daily_mg: int,
              is_last: bool) -> None:  # fmt: skip
        w, rng, cid = self.w, self.rng, ctx["cid"]
        clinic = ctx["clinic"]
        if cbp:
            self.pregnancy_test(ctx, day, "lab")
            w.add("courses.MonthlyCheck", self.at(day), course_id=cid, kind="comprehension",
                  done_on=day, passed=True, answers={}, recorded_by_id=ctx["recorder"])  # fmt: skip
        w.add("courses.MonthlyCheck", self.at(day), course_id=cid, kind="counselling",
              done_on=day, passed=None, answers={}, recorded_by_id=ctx["prescriber"])  # fmt: skip
        self.mood(ctx, day)
        rx = w.add("courses.Prescription", self.at(day), course_id=cid,
                   prescriber_id=ctx["prescriber"], written_on=day, days_supply=30, refills=0,
                   daily_dose_mg=daily_mg, quantity=60, pharmacy_id=clinic["pharmacy"],
                   cancelled_at=None)  # fmt: skip
        filled = day + dt.timedelta(days=rng.randint(1, 3))
        if filled > self.today or (is_last and rng.random() < 0.2):
            return  # not yet collected
        pharmacist = clinic["pharmacist"]
        decision = w.add("courses.ProgrammeDecision", self.at(filled, 11), course_id=cid,
                         prescription_id=rx, action="dispense", as_of=self.at(filled, 11),
                         pack=PACKS[ctx["region"]], allowed=True,
                         dispense_by=day + dt.timedelta(days=7),
                         findings=[{"rule": "negative_test_before_fill", "status": "met",
                                    "message": "negative pregnancy test", "deadline": None,
                                    "source": "bench"}] if cbp else [],
                         requested_by_id=pharmacist, reversed_at=None)  # fmt: skip
        self.audit(filled, pharmacist, "authorise_dispense", "courses.programmedecision",
                   decision, ctx["pid"], prescription=rx)  # fmt: skip
        if ctx["region"] == "US":
            w.add("courses.MedicationGuideAck", self.at(filled), prescription_id=rx,
                  acknowledged_on=filled, acknowledged_by_id=pharmacist,
                  guide_version="")  # fmt: skip
        w.add("courses.Dispense", self.at(filled, 12), prescription_id=rx, dispensed_on=filled,
              days_supply=30, quantity=60, pharmacist_id=pharmacist, pharmacy_id=clinic["pharmacy"],
              rma_number="", external_do_not_dispense_after=None)  # fmt: skip
        self.audit(day, ctx["prescriber"], "view", "patients.patient", ctx["pid"], ctx["pid"])

    def pregnancy_test(self, ctx: dict[str, Any], day: dt.date, setting: str) -> None:
        self.w.add("courses.PregnancyTest", self.at(day), patient_id=ctx["pid"],
                   course_id=ctx["cid"], specimen_date=day, result="negative", setting=setting,
                   loinc_code="2106-3" if setting == "clinic" else "2118-8",
                   recorded_by_id=ctx["prescriber"])  # fmt: skip

    def lab(
        self, ctx: dict[str, Any], day: dt.date, abnormal: bool, course: int | None = None
    ) -> None:
        rng = self.rng
        tg = Decimal(rng.choice(["520", "880"]) if abnormal else str(rng.randrange(70, 180)))
        for test, value, unit in (("triglycerides", tg, "mg/dL"),
                                  ("alt", Decimal(rng.randrange(12, 40)), "U/L")):  # fmt: skip
            findings = self.lab_findings(test, value, unit) if abnormal else []
            reviewed = bool(findings) and rng.random() < 0.5
            self.w.add("courses.LabResult", self.at(day), patient_id=ctx["pid"],
                       course_id=ctx["cid"], test=test, loinc_code=self.loinc[test],
                       value=value, unit=unit, taken_on=day, fasting=True,
                       recorded_by_id=ctx["prescriber"], findings=findings,
                       reviewed_by_id=ctx["prescriber"] if reviewed else None,
                       reviewed_at=self.at(day + dt.timedelta(days=1)) if reviewed
                       else None)  # fmt: skip

    def mood(self, ctx: dict[str, Any], day: dt.date) -> None:
        from isoguard.core.mood import tool_for_age

        rng = self.rng
        items = [rng.choice([0, 0, 0, 1]) for _ in range(8)] + [0]
        self.w.add("courses.MoodAssessment", self.at(day), patient_id=ctx["pid"],
                   course_id=ctx["cid"], tool=tool_for_age(ctx["age"]).value, score=sum(items),
                   item9=0, answers={"items": items, "extras": {}}, assessed_on=day,
                   recorded_by_id=ctx["recorder"])  # fmt: skip

    def report(self, ctx: dict[str, Any], start: dt.date, end: dt.date) -> None:
        rng = self.rng
        chosen = rng.choice(self.reports)
        day = start + dt.timedelta(days=rng.randrange(max(1, (end - start).days)))
        at = self.at(day, 19)
        recent = (self.today - day).days <= 14
        self.w.add("courses.SymptomReport", at, patient_id=ctx["pid"], course_id=ctx["cid"],
                   mood_assessment_id=None, text=chosen["text"], checklist=[],
                   submitted_by_id=ctx["recorder"], submitted_at=at, triage_state="triaged",
                   triage_level=chosen["level"], priority=chosen["priority"],
                   concepts=chosen["concepts"], triaged_at=at, triage_error="",
                   review_state="new" if recent else "resolved",
                   acknowledged_by_id=None if recent else ctx["prescriber"],
                   acknowledged_at=None if recent else at + dt.timedelta(hours=15),
                   reviewed_by_id=None if recent else ctx["prescriber"],
                   reviewed_at=None if recent else at + dt.timedelta(hours=16),
                   review_note="" if recent else "Called the patient; advice given.")  # fmt: skip


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, required=True)
    parser.add_argument("--clinics", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--today", type=dt.date.fromisoformat, default=None)
    parser.add_argument("--chunk", type=int, default=10000, help="patients written per COPY round")
    args = parser.parse_args(argv)
    setup_django()
    from django.db import connection
    from django.utils import timezone

    from isoguard.patients.models import Patient

    if Patient.objects.exists():
        print("seed.py: the database already has patients; give it an empty, migrated one")
        return 2
    started = time.perf_counter()
    w = Writer()
    s = Seeder(w, random.Random(args.seed), args.today or timezone.localdate())
    s.organisations(args.clinics)
    for n in range(1, args.patients + 1):
        s.patient(n)
        if n % args.chunk == 0:
            w.flush()
            print(f"  {n} patients, {time.perf_counter() - started:.0f} s", flush=True)
    w.flush()
    w.finish()
    elapsed = time.perf_counter() - started
    events = sum(w.counts[t] for t in EVENT_TABLES)
    biggest = max(s.clinics, key=lambda c: c["patients"])
    summary = {
        "database": connection.vendor,
        "patients": args.patients,
        "clinics": args.clinics,
        "biggest_clinic": {"id": biggest["id"], "patients": biggest["patients"],
                           "prescriber": s.usernames[biggest["prescribers"][0]]},
        "clinical_events": events,
        "decisions": w.counts["courses.ProgrammeDecision"],
        "audit_events": w.counts["audit.AuditEvent"],
        "rows": dict(sorted(w.counts.items())),
        "seconds": round(elapsed, 1),
    }  # fmt: skip
    print(json.dumps(summary, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
