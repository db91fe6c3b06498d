"""Hostile input to every web form a person can reach: no server error, no stored garbage, and
every refusal says which field it is about.

For each role, the demo clinic's person logs in and the crawler (tests/fuzz/crawl.py) follows
their links from the home page and collects every form that posts. A few ordinary steps in between
(a screening, a lab over its limit, a Medication Guide handed over, a reminder run, a two-factor
set-up begun) make the forms that only appear after them reachable too. Then hypothesis posts each
form again and again with hostile values in some of its fields (tests/fuzz/hostile.py), fields left
out or sent twice, values the page does not offer, and fields it does not have.

After every post:

(a) the status is not 5xx (the test client raises the view's exception, with its traceback);
(b) every row the post wrote passes full_clean() and holds no NUL character (SQLite stores what
    PostgreSQL refuses and what max_length forbids, so a SQLite run would otherwise not notice);
(c) a refusal wrote nothing but the audit trail: a re-rendered form (200/400/422) whose errors are
    keyed by fields of the form (or `__all__`), each error shown on the page; a redirect with an
    error message; or a 403/404/405/413;
(d) an accepted post leaves the pages that show it working: the redirect target and the page the
    form was on load without a server error.

Each example runs in a savepoint that is rolled back, so every example starts from the same demo
and a failure replays exactly. ISOGUARD_FUZZ_EXAMPLES (default 12) sets the examples per form.
"""

from __future__ import annotations

import datetime as dt
import os
import time
import traceback
import zoneinfo
from collections import Counter
from contextlib import contextmanager
from urllib.parse import urlencode

import pytest
import time_machine
from django import forms as django_forms
from django.conf import settings as django_settings
from django.contrib.messages import constants as message_levels
from django.contrib.messages import get_messages
from django.db import transaction
from django.test import Client
from django.test.utils import ContextList
from django.utils.html import escape
from hypothesis import HealthCheck, Phase, given, note, settings
from hypothesis import strategies as st

from tests.conftest import TODAY
from tests.fuzz.crawl import DISPATCH, Form, crawl
from tests.fuzz.hostile import ANY_TEXT, HUGE, MAY_CHANGE_ON_REFUSAL, Sweep, hostile_values

EXAMPLES = int(os.environ.get("ISOGUARD_FUZZ_EXAMPLES", "12"))

# The demo's people by role: several patients, because each is at a different step.
ROLES = {
    "prescriber": ["dr.rivera"],
    "clinic_staff": ["nurse.kim"],
    "pharmacist": ["pharm.chen"],
    "patient": ["alice", "ben", "fatima"],
    "guardian": ["chloe.parent"],
    "administrator": ["admin"],
    "anonymous": [None],
}

PROGRAMME_STEPS = [
    f"programme[step={step}]"
    for step in ("category", "consent", "contraception", "counselling", "enrol", "pregnancy_test",
                 "prescribe", "start_course")
]  # fmt: skip
CLINIC_FORMS = {
    "account_security[action=start]",
    "lab_new",
    "lab_review",
    "mood_new",
    "patient_country",
    *PROGRAMME_STEPS,
    "report_detail[step=acknowledge]",
    "report_detail[step=resolve]",
    "report_new",
}
# Every form the crawl must find, by role: a form that disappears from the pages is noticed here.
# A new form is fuzzed as soon as the crawl finds it; add it here so that it stays covered.
EXPECTED = {
    "prescriber": CLINIC_FORMS | {"dose_plan", "screening_new", "screening_start_course"},
    "clinic_staff": CLINIC_FORMS,
    "pharmacist": {
        "account_security[action=start]",
        "pharmacy_prescription[step=medication_guide]",
        "pharmacy_prescription[step=dispense]",
        "pharmacy_prescription[step=reverse]",
    },
    "patient": {
        "checklist[step=comprehension]",
        "checklist[step=contraception]",
        "checklist[step=medication_guide]",
        "diary_record",
        "mood_new",
        "reminders:preferences",
        "reminders:read",
        "reminders:read[notification]",
        "report_new",
    },
    "guardian": {
        "diary_record",
        "reminders:preferences",
        "reminders:read",
        "reminders:read[notification]",
        "report_new",
    },
    "administrator": {
        "account_security[action=start]",
        "account_security[action=cancel]",
        "account_security[action=confirm]",
    },
    "anonymous": {"login"},
}

# Field names a form does not have, that a hostile client might hope a view reads.
EXTRA_NAMES = [
    "id", "pk", "patient", "patient_id", "user", "user_id", "role", "is_superuser", "is_staff",
    "course", "prescriber", "status", "allowed", "next", "csrfmiddlewaretoken", "step", "__all__",
]  # fmt: skip
ERROR_STATUSES = (200, 400, 422)
# Re-rendered forms whose field errors the page does not show, each with why it is allowed here.
ERRORS_NOT_SHOWN: dict[str, str] = {}  # every form shows its errors on the page
REDIRECTS = (301, 302, 303)


def kind_of(form: Form) -> str:
    """Form.kind, with a marker for the read form that names one notification."""
    kind = form.kind
    if kind == "reminders:read" and "notification" in form.names:
        return "reminders:read[notification]"
    return kind


# --- the states in which more forms appear ------------------------------------------------------


def _clinic_steps(client: Client, username: str) -> None:
    """The prescriber screens Dev (so his screening offers to start the course) and records a
    high triglyceride result of Alice's (so the clinic has a lab to mark as reviewed)."""
    from isoguard.accounts.models import User
    from isoguard.courses.lab_services import lab_record
    from isoguard.patients.models import Patient
    from isoguard.screenings.services import screening_run

    user = User.objects.get(username="dr.rivera")
    dev = Patient.objects.get(given_name="Dev")
    screening_run(user=user, patient_id=dev.pk, fields={
        "diagnosis": "severe_recalcitrant_nodular_acne",
        "failed_treatments": ["topical_benzoyl_peroxide", "oral_doxycycline"],
        "can_become_pregnant": False,
    })  # fmt: skip
    alice = Patient.objects.get(given_name="Alice")
    lab_record(user=user, patient_id=alice.pk, test="triglycerides", value="900", unit="mg/dL",
               taken_on=TODAY, fasting=True)  # fmt: skip


def _submit(kind: str):
    """The step of posting the first form of `kind` as the browser would."""

    def step(client: Client, username: str) -> None:
        form = crawl(client).by_kind()[kind][0]
        response = client.post(form.action, form.browser_data())
        assert response.status_code in REDIRECTS, (kind, response.status_code)

    return step


def _notifications(client: Client, username: str) -> None:
    """A reminder run, and a notification for each patient it told nothing: something to read."""
    from isoguard.accounts.models import User
    from isoguard.patients.access import patients_visible_to
    from isoguard.reminders.models import Notification, ReminderKind
    from isoguard.reminders.services import run_reminders

    run_reminders()
    for patient in patients_visible_to(User.objects.get(username=username)):
        if not patient.notifications.exists():
            Notification.objects.create(
                patient=patient, kind=ReminderKind.DOSE, title="Time for your evening dose"
            )


UNLOCK = {
    "dr.rivera": [_clinic_steps],
    "nurse.kim": [_clinic_steps],
    "pharm.chen": [_submit("pharmacy_prescription[step=medication_guide]")],
    "alice": [_notifications],
    "chloe.parent": [_notifications],
    "admin": [_submit("account_security[action=start]")],
}


# --- one post and what must hold after it -------------------------------------------------------


@contextmanager
def rolled_back():
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


def _contexts(response) -> list[tuple[str, object]]:
    found = response.context
    if found is None:
        return []
    contexts = list(found) if isinstance(found, ContextList) else [found]
    return [(key, value) for context in contexts for d in context.dicts for key, value in d.items()]


def shown_errors(response) -> dict[str, list[str]]:
    """The errors the view put on the page: bound forms' errors (keys with the form's prefix),
    and the `errors` dict of the views that check without a Django form."""
    errors: dict[str, list[str]] = {}
    seen: set[int] = set()
    for key, value in _contexts(response):
        candidates = list(value.values()) if key == "forms" and isinstance(value, dict) else [value]
        for candidate in candidates:
            if isinstance(candidate, django_forms.BaseForm) and candidate.is_bound:
                if id(candidate) in seen:
                    continue
                seen.add(id(candidate))
                for name, messages in candidate.errors.items():
                    field = name if name == "__all__" else candidate.add_prefix(name)
                    errors.setdefault(field, []).extend(messages)
        if key == "errors" and isinstance(value, dict) and id(value) not in seen:
            seen.add(id(value))
            for name, messages in value.items():
                errors.setdefault(str(name), []).extend(str(m) for m in messages)
    return errors


def names_a_field(key: str, form: Form) -> bool:
    """`key` is `__all__` or one of the form's controls (mood errors say "item 3" for item_3, and
    an extra question's id for extra_<id>)."""
    if key == "__all__":
        return True
    return any(
        name in (key, key.replace(" ", "_")) or name.endswith(("_" + key, "-" + key))
        for name in form.names
    )


class Outcomes:
    """What the posts of one test did, for the summary printed at the end."""

    def __init__(self) -> None:
        self.by_kind: dict[str, Counter[str]] = {}
        self.messages: dict[str, Counter[str]] = {}
        self.seconds: Counter[str] = Counter()

    def add(self, kind: str, outcome: str, message: str = "") -> None:
        self.by_kind.setdefault(kind, Counter())[outcome] += 1
        if message:
            self.messages.setdefault(kind, Counter())[message[:160]] += 1

    def print(self) -> None:
        for kind, counts in sorted(self.by_kind.items()):
            print(f"  {kind}: {dict(counts)} in {self.seconds[kind]:.1f}s")
            for message, n in self.messages.get(kind, Counter()).most_common(6):
                print(f"      {n} x {message!r}")


def post_once(
    client: Client,
    form: Form,
    data: dict[str, list[str]],
    *,
    htmx: bool,
    raw_tail: str | None,
    sweep: Sweep,
    outcomes: Outcomes,
    view_controls: list,
) -> None:
    """Post once, and check (a) to (d) of the module's docstring."""
    kind = kind_of(form)
    extra = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    if raw_tail is None:
        response = client.post(form.action, data, **extra)
    else:  # urlencoded, with bytes that are not UTF-8 or not a pair at all
        body = urlencode(data, doseq=True) + raw_tail
        response = client.post(
            form.action, body, content_type="application/x-www-form-urlencoded", **extra
        )
    status = response.status_code
    assert status < 500, f"{kind}: {status}"
    wrote = sweep.check() - MAY_CHANGE_ON_REFUSAL
    wrote_note = f"{kind}: a refused post wrote {sorted(wrote)}"
    said = list(get_messages(response.wsgi_request))
    failed = " ".join(str(m) for m in said if m.level >= message_levels.ERROR).strip()
    # A post whose step or action was changed is answered as that step: its fields are those of
    # the view's other forms.
    same_step = all(data.get(n) == form.browser_data().get(n) for n in DISPATCH)
    fields = form if same_step else Form(form.page, form.action, view_controls)
    errors = shown_errors(response) if status in ERROR_STATUSES else {}

    if errors:
        assert not wrote, wrote_note
        stray = [key for key in errors if not names_a_field(key, fields)]
        assert not stray, f"{kind}: errors keyed {stray}, not fields of the form {fields.names}"
        page = response.content.decode()
        hidden = [m for ms in errors.values() for m in ms if escape(m) not in page]
        if kind not in ERRORS_NOT_SHOWN:
            assert not hidden, f"{kind}: errors not shown on the page: {hidden}"
        shown = "; ".join(f"{k}: {v[0]}" for k, v in errors.items())
        outcomes.add(kind, f"refused ({status})", shown)
    elif failed:
        assert not wrote, wrote_note
        outcomes.add(kind, f"refused ({status}, message)", failed)
    elif status in REDIRECTS or status == 200:
        text = " ".join(str(m) for m in said)
        what = "accepted" if wrote else "nothing to change" if said else "ignored"
        outcomes.add(kind, what + ("" if same_step else " (step changed)"), text)
    else:  # 403, 404, 405, 413 ...
        assert not wrote, wrote_note
        outcomes.add(kind, str(status))
        return
    if status == 400 and not errors and not failed:
        raise AssertionError(f"{kind}: a 400 that says nothing")
    # (d) what was accepted is shown without a server error
    pages = [form.page] + ([response.url.split("?")[0]] if status in REDIRECTS else [])
    for page in dict.fromkeys(pages):
        follow = client.get(page)
        assert follow.status_code < 500, f"{kind}: after the post, {page} is a {follow.status_code}"


# --- what hypothesis sends ----------------------------------------------------------------------


def typed_data(form: Form) -> dict[str, list[str]]:
    """The form as someone sends it who fills in each empty box with something sensible, so that
    a hostile value in one field meets sensible values in the others and reaches the service."""
    data = form.browser_data()
    for control in form.controls:
        if control.type == "radio" and control.name not in data:
            data[control.name] = [control.value]  # the first answer of each question
            continue
        if control.tag not in ("input", "textarea") or data.get(control.name) not in ([""], None):
            continue
        typed = TYPED.get(control.type)
        if typed is not None:
            data[control.name] = [typed]
    return data


TYPED = {
    "text": "150",  # a lab value, a version, a reason, a code: a number reads as any of them
    "textarea": "Dry lips, a little sore.",
    "number": "30",
    "date": TODAY.isoformat(),
    "time": "08:00",
    "password": "a-long-test-password",
}


# Per kind of control, the values tried in it one at a time (hypothesis tries the rest).
LONG_NUMBER = "9" * 5000
SHARP = {
    "date": ["0001-01-01", "9999-12-31", "2026-02-30"],
    "time": ["24:00", "a\x00b"],
    "number": ["²", "-1", "1e309", LONG_NUMBER],
    "text": ["a\x00b", HUGE, "²", LONG_NUMBER],
    "hidden": ["a\x00b", HUGE, "²", "9999-12-31", LONG_NUMBER],
}


# What is done to each field chosen: mostly a hostile value.
HOW = ["hostile", "hostile", "hostile", "offered", "missing", "twice"]


@st.composite
def submissions(draw, form: Form, offered: dict[str, list[str]]):
    """The form as the browser sends it (left empty, or filled in sensibly), then some of its
    fields disturbed, and maybe more."""
    data = typed_data(form) if draw(st.booleans()) else form.browser_data()
    names = [n for n in form.names if n != "csrfmiddlewaretoken"]
    targets = draw(st.lists(st.sampled_from(names), unique=True)) if names else []
    for name in targets:
        how = draw(st.sampled_from(HOW))
        choices = offered.get(name) or [""]
        if how == "hostile":
            data[name] = [draw(hostile_values())]
        elif how == "offered":
            data[name] = draw(st.lists(st.sampled_from(choices), min_size=1, max_size=3))
        elif how == "missing":
            data.pop(name, None)
        else:
            data[name] = [draw(st.sampled_from(choices)), draw(hostile_values())]
            data[name] = draw(st.permutations(data[name]))
    for name, value in draw(
        st.lists(st.tuples(st.sampled_from(EXTRA_NAMES) | ANY_TEXT, hostile_values()), max_size=2)
    ):
        data.setdefault(name, []).append(value)
    htmx = form.htmx and draw(st.booleans())
    raw_tail = draw(st.none() | st.sampled_from(["&%FF%FE=%C0%AF", "&=&&x", "&text=%00%ZZ"]))
    return data, htmx, raw_tail


def fuzz_kind(
    client: Client, found: list[Form], view: list[Form], sweep: Sweep, outcomes: Outcomes
) -> None:
    """Post the forms of one kind (`found`), those of the whole view being `view`."""
    offered = offered_values(view)
    view_controls = [c for form in view for c in form.controls]
    # Every example starts from the same rows (each is rolled back), so they are taken once.
    sweep.begin()
    form = found[0]
    # The form exactly as the page gives it, then filled in sensibly with one field at a time
    # sharp: the values most likely to slip past a check, for that kind of field.
    fixed = [form.browser_data(), typed_data(form)]
    for control in form.controls:
        if control.name in (*DISPATCH, "csrfmiddlewaretoken", ""):
            continue
        for value in SHARP.get(control.type, SHARP["text"]):
            fixed.append({**typed_data(form), control.name: [value]})
    for data in {repr(sorted(p.items())): p for p in fixed}.values():
        with rolled_back():
            post_once(client, form, data, htmx=False, raw_tail=None, sweep=sweep,
                      outcomes=outcomes, view_controls=view_controls)  # fmt: skip

    @settings(
        max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
        phases=(Phase.explicit, Phase.generate, Phase.shrink), report_multiple_bugs=False,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )  # fmt: skip
    @given(st.data())
    def posts(data: st.DataObject) -> None:
        form = found[data.draw(st.integers(0, len(found) - 1), label="form")]
        note(repr(form))
        fields, htmx, raw_tail = data.draw(submissions(form, offered), label="post")
        with rolled_back():
            post_once(client, form, fields, htmx=htmx, raw_tail=raw_tail, sweep=sweep,
                      outcomes=outcomes, view_controls=view_controls)  # fmt: skip

    posts()


def offered_values(view: list[Form]) -> dict[str, list[str]]:
    """Every value the view's forms offer per field: a step or action of one is tried on the
    others too, and one no form offers."""
    out: dict[str, list[str]] = {}
    for form in view:
        for name, values in form.offered().items():
            out.setdefault(name, [])
            out[name] += [v for v in values if v not in out[name]]
    for name in DISPATCH:
        if name in out:
            out[name].append("no-such-" + name)
    return out


def described(error: BaseException) -> str:
    """The exception, where it was raised (the last frames) and hypothesis' notes."""
    if isinstance(error, BaseExceptionGroup):
        return "\n".join(described(e) for e in error.exceptions)
    found = traceback.TracebackException.from_exception(error, capture_locals=False)
    while found.__cause__ is not None or found.__context__ is not None:
        if found.exc_type and issubclass(found.exc_type, AssertionError):
            break
        found = found.__cause__ or found.__context__  # the view's own exception, not the wrapper
    frames = "".join(traceback.format_list(found.stack[-3:]))
    return frames + "".join(traceback.format_exception_only(error))


def login(username: str | None) -> Client:
    from isoguard.accounts.models import User

    client = Client()
    if username is not None:
        client.force_login(User.objects.get(username=username))
    return client


@pytest.mark.parametrize("role", list(ROLES))
def test_hostile_posts_to_every_form(role: str, db) -> None:
    from isoguard.demo import create_demo

    start = time.monotonic()
    zone = zoneinfo.ZoneInfo(django_settings.TIME_ZONE)
    failures: list[str] = []
    covered: dict[str, set[str]] = {}  # kind: the distinct actions found
    outcomes = Outcomes()
    with time_machine.travel(dt.datetime.combine(TODAY, dt.time(9, 30), tzinfo=zone)):
        create_demo(TODAY)
        sweep = Sweep()
        done: set[str] = set()  # each kind once a role, by the first person who has it
        for username in ROLES[role]:
            client = login(username)
            home = "/" if username else "/accounts/login/"
            for step in [None, *UNLOCK.get(username or "", [])]:
                if step is not None:
                    step(client, username)
                found = crawl(client, home).forms
                by_kind: dict[str, list[Form]] = {}
                for form in found:
                    by_kind.setdefault(kind_of(form), []).append(form)
                for kind, forms_of_kind in sorted(by_kind.items()):
                    covered.setdefault(kind, set()).update(f.action for f in forms_of_kind)
                    if kind in done:
                        continue
                    done.add(kind)
                    try:
                        view = [f for f in found if f.url_name == forms_of_kind[0].url_name]
                        began = time.monotonic()
                        fuzz_kind(client, forms_of_kind, view, sweep, outcomes)
                        outcomes.seconds[kind] += time.monotonic() - began
                    except Exception as error:  # every form's failure is reported, not the first
                        failures.append(f"--- {username} {kind}:\n{described(error)}")
        sweep.everything()
    print(f"\n{role}: {len(covered)} kinds of form, {time.monotonic() - start:.1f}s")
    for kind, actions in sorted(covered.items()):
        print(f"  {kind} ({len(actions)} on the pages, e.g. {min(actions)})")
    outcomes.print()
    missing = EXPECTED[role] - set(covered)
    assert not failures, "\n".join(failures)
    assert not missing, f"the crawl no longer finds {sorted(missing)} for {role}"


def test_the_expected_forms_are_many_and_each_a_real_view() -> None:
    """At least 25 distinct forms across the roles (each role's test checks its crawl finds them
    all), each naming a view of the URLconf."""
    from django.urls import get_resolver

    kinds = set().union(*EXPECTED.values())
    assert len(kinds) >= 25
    names = {name for name in get_resolver().reverse_dict if isinstance(name, str)}
    names |= {f"reminders:{n}" for n in get_resolver().namespace_dict["reminders"][1].reverse_dict
              if isinstance(n, str)}  # fmt: skip
    assert {kind.split("[")[0] for kind in kinds} <= names
