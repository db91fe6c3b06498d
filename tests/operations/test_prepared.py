"""A values query compiled once gives, for any ids, exactly what Django's values_list() gives."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from isoguard.courses.models import ContraceptionPlan, Course, LabResult, Prescription
from isoguard.demo import create_demo
from isoguard.operations import prepared
from isoguard.operations.prepared import PreparedValues, _pipelines, read_together

D = dt.date


def values(queryset, fields):
    return [tuple(row) for row in queryset.values_list(*fields)]


@pytest.fixture
def demo(db):
    create_demo(D(2026, 11, 25))
    return list(Course.objects.order_by("pk"))


@pytest.fixture(autouse=True)
def fresh_cache():
    """Each test compiles its own statements (the cache is per thread, kept between tests)."""
    prepared._local.cache = None
    yield
    prepared._local.cache = None


def test_the_same_statement_run_again_reads_the_new_ids_rows(demo):
    fields = ("patient_id", "test", "value", "unit", "taken_on", "id")
    labs = PreparedValues(
        "lab_t", lambda ids: LabResult.objects.filter(patient_id__in=ids), *fields
    )
    patients = sorted({c.patient_id for c in demo})
    assert len(patients) >= 4
    for one in patients:  # one statement, compiled at the first, run with each id
        expected = values(LabResult.objects.filter(patient_id__in=[one]), fields)
        assert [tuple(r) for r in labs.rows([one])] == expected
    pairs = [patients[:2], patients[2:4], patients[1:3]]
    for ids in pairs:
        expected = values(LabResult.objects.filter(patient_id__in=ids), fields)
        assert [tuple(r) for r in labs.rows(ids)] == expected
    assert any(labs.rows(patients))  # the demo has labs: the comparison above was not empty
    assert len(prepared._local.cache) == 3  # one, two and every patient: three statements


def test_rows_are_converted_as_django_converts_them(demo):
    """Dates, JSON, decimals and joined columns come back as values_list() gives them."""
    plans = PreparedValues(
        "plan_t", lambda ids: ContraceptionPlan.objects.filter(course_id__in=ids),
        "course_id", "methods", "start", "end", "id",
    )  # fmt: skip
    ids = [c.pk for c in demo]
    rows = plans.rows(ids)
    assert rows, "the demo has contraception plans"
    assert rows == [
        plans.row(*r)
        for r in ContraceptionPlan.objects.filter(course_id__in=ids).values_list(
            "course_id", "methods", "start", "end", "id"
        )
    ]
    assert all(isinstance(r.methods, list) and isinstance(r.start, dt.date) for r in rows)
    joined = PreparedValues(
        "rx_t", lambda ids: Prescription.objects.filter(course_id__in=ids),
        "course_id", "id", "dispense__dispensed_on", "medication_guide_ack__acknowledged_on",
    )  # fmt: skip
    assert [tuple(r) for r in joined.rows(ids)] == values(
        Prescription.objects.filter(course_id__in=ids),
        ("course_id", "id", "dispense__dispensed_on", "medication_guide_ack__acknowledged_on"),
    )
    assert any(r.dispense_dispensed_on for r in joined.rows(ids))  # named without the "__"


def test_repeats_empty_lists_and_one_query_per_read(demo):
    labs = PreparedValues(
        "lab_r", lambda ids: LabResult.objects.filter(patient_id__in=ids), "patient_id", "id"
    )
    one = demo[0].patient_id
    assert labs.rows([one, one, one]) == labs.rows([one])
    with CaptureQueriesContext(connection) as queries:
        assert labs.rows([]) == []
        labs.rows([one])
    assert len(queries) == 1  # no query for no ids; one for one read (the debug cursor sees it)


def test_a_query_with_another_parameter_is_refused_when_compiled(demo):
    """A value other than the ids would be frozen into the cached statement: refused."""
    recent = PreparedValues(
        "lab_since",
        lambda ids: LabResult.objects.filter(patient_id__in=ids, taken_on__gte=D(2026, 1, 1)),
        "patient_id", "id",
    )  # fmt: skip
    with pytest.raises(ValueError, match="parameters must be its ids alone"):
        recent.rows([demo[0].patient_id])


def test_the_cache_keeps_the_most_recent_statements_only(demo, monkeypatch):
    monkeypatch.setattr(prepared, "CACHED", 3)
    labs = PreparedValues(
        "lab_c", lambda ids: LabResult.objects.filter(patient_id__in=ids), "patient_id", "id"
    )
    patients = sorted({c.patient_id for c in demo})
    for size in range(1, 6):
        labs.rows(patients[:size])
    assert [key[2] for key in prepared._local.cache] == [3, 4, 5]
    # An evicted statement is compiled again and still right.
    assert [tuple(r) for r in labs.rows(patients[:1])] == values(
        LabResult.objects.filter(patient_id__in=patients[:1]), ("patient_id", "id")
    )


def test_reads_together_give_what_each_gives_alone(demo):
    """On PostgreSQL they go in one round trip (pipeline mode); the rows are the same."""
    labs = PreparedValues(
        "lab_g", lambda ids: LabResult.objects.filter(patient_id__in=ids), "patient_id", "id"
    )
    plans = PreparedValues(
        "plan_g", lambda ids: ContraceptionPlan.objects.filter(course_id__in=ids),
        "course_id", "methods", "start",
    )  # fmt: skip
    patients = sorted({c.patient_id for c in demo})
    courses = [c.pk for c in demo]
    together = read_together([(labs, patients), (plans, []), (plans, courses), (labs, [0])])
    assert together == [labs.rows(patients), [], plans.rows(courses), []]
    assert together[0] and together[2]
    # CI runs this file on PostgreSQL too, where the reads must take the pipelined path.
    assert _pipelines(connection) == (connection.vendor == "postgresql")


def test_ids_no_key_can_hold_match_nothing_instead_of_failing(demo):
    """A 2**63 id (a fuzzer's favourite) finds no row, as `filter(pk=2**63)` finds none."""
    labs = PreparedValues(
        "lab_big", lambda ids: LabResult.objects.filter(patient_id__in=ids), "patient_id", "id"
    )
    one = demo[0].patient_id
    assert labs.rows([2**63]) == [] == labs.rows([-(2**63) - 1])
    assert labs.rows([2**63, one]) == labs.rows([one])


def test_a_read_keyed_by_text_reads_like_the_orm(demo):
    """An API token is read by its prefix: a text key passes as it is (no integer range)."""
    from isoguard.accounts.models import ApiToken, User
    from isoguard.accounts.tokens import token_create

    token, _ = token_create(User.objects.get(username="pharm.chen"), "t")
    fields = ("prefix", "user_id", "user__username")
    read = PreparedValues(
        "by_prefix", lambda keys: ApiToken.objects.filter(prefix__in=keys), *fields
    )
    assert [tuple(r) for r in read.rows([token.prefix])] == values(
        ApiToken.objects.filter(prefix=token.prefix), fields
    )
    assert read.rows(["nothere0"]) == []
