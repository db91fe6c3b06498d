"""Screening: every contraindication, interaction and caution of the data, from its source."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from hypothesis import given as hypothesis_given
from hypothesis import strategies as st

from isoguard.core.knowledge.loading import Status
from isoguard.core.knowledge.products import load_catalogue
from isoguard.core.knowledge.screening_data import Severity, load_screening
from isoguard.core.screening import (
    MedicineInput,
    Outcome,
    OverrideError,
    ScreeningInput,
    screen,
)
from isoguard.core.vocabulary import Jurisdiction

TODAY = dt.date(2026, 11, 25)
KNOWLEDGE = load_screening()
US_PRODUCTS = {"absorica", "absorica-ld", "claravis", "amnesteem", "myorisan", "zenatane",
               "sotret", "isotretinoin"}  # fmt: skip


def given(**changes) -> ScreeningInput:
    """A 22-year-old in the US who cannot become pregnant and failed minocycline: eligible."""
    base = ScreeningInput(
        as_of=TODAY,
        birth_date=dt.date(2004, 6, 1),
        jurisdiction=Jurisdiction.US,
        diagnosis="severe_recalcitrant_nodular_acne",
        failed_treatments=("topical_benzoyl_peroxide", "oral_minocycline"),
        can_become_pregnant=False,
    )
    return dataclasses.replace(base, **changes)


def ids(result) -> set[str]:
    """The finding ids, without the US enrolment notice every US patient gets (tested below)."""
    return {f.id for f in result.findings} - {"us_enrolment"}


def safe(result) -> set[str]:
    return {p.slug.value for p in result.safe_products}


def test_a_patient_with_nothing_against_it_is_eligible_for_every_us_product():
    result = screen(given())
    assert result.outcome == Outcome.ELIGIBLE
    assert [f.id for f in result.findings] == ["us_enrolment"]
    assert safe(result) == US_PRODUCTS
    excluded = {p.slug.value: p.reasons for p in result.excluded_products}
    assert set(excluded) == {"accutane", "roaccutane"}
    assert "no longer marketed" in excluded["accutane"][0]


@pytest.mark.parametrize("jurisdiction", [Jurisdiction.UK, Jurisdiction.EU])
def test_in_the_uk_and_eu_the_product_is_roaccutane(jurisdiction):
    result = screen(given(jurisdiction=jurisdiction))
    assert safe(result) == {"roaccutane"}


def test_uk_patients_need_a_mental_health_and_sexual_function_assessment_first():
    result = screen(given(jurisdiction=Jurisdiction.UK))
    assert "uk_assessment_before_start" in ids(result)
    assert result.outcome == Outcome.ELIGIBLE  # information, not a caution


@pytest.mark.parametrize(
    ("birth_date", "finding", "outcome"),
    [
        (dt.date(2014, 11, 26), "age_under_12", Outcome.NOT_ELIGIBLE),  # 12 tomorrow
        (dt.date(2014, 11, 25), "minor", Outcome.ELIGIBLE),  # 12 today
        (dt.date(2008, 11, 26), "minor", Outcome.ELIGIBLE),  # 18 tomorrow
        (dt.date(2008, 11, 25), None, Outcome.ELIGIBLE),  # 18 today
    ],
)
def test_age_limits_turn_over_on_the_birthday(birth_date, finding, outcome):
    result = screen(given(birth_date=birth_date))
    assert result.outcome == outcome
    assert ({finding} if finding else set()) == ids(result) & {"age_under_12", "minor"}


def test_pregnancy_is_a_contraindication():
    result = screen(given(pregnant=True, can_become_pregnant=True))
    assert result.outcome == Outcome.NOT_ELIGIBLE and "pregnant" in ids(result)


def test_breastfeeding_is_a_contraindication_by_default_and_a_clinic_setting():
    assert screen(given(breastfeeding=True)).outcome == Outcome.NOT_ELIGIBLE
    relaxed = screen(given(breastfeeding=True), overrides={"rule:breastfeeding": "caution"})
    assert relaxed.outcome == Outcome.ELIGIBLE_WITH_CAUTIONS


def test_unknown_pregnancy_potential_is_a_caution_and_known_potential_is_information():
    assert "pregnancy_potential_unknown" in ids(screen(given(can_become_pregnant=None)))
    able = screen(given(can_become_pregnant=True))
    assert "can_become_pregnant" in ids(able) and able.outcome == Outcome.ELIGIBLE


@pytest.mark.parametrize("indication", [i for i in KNOWLEDGE.indications], ids=lambda i: i.id)
def test_every_indication_either_is_on_label_or_asks_for_a_reason(indication):
    result = screen(given(diagnosis=indication.id))
    assert ("indication_off_label" in ids(result)) is (not indication.on_label)


@pytest.mark.parametrize(
    ("tried", "caution"),
    [
        ((), True),
        (("topical_benzoyl_peroxide", "topical_clindamycin"), True),
        (("oral_doxycycline",), False),
        (("other_oral_antibiotic",), False),
    ],
)
def test_a_failed_oral_antibiotic_is_expected_before_isotretinoin(tried, caution):
    result = screen(given(failed_treatments=tried))
    assert ("no_failed_oral_antibiotic" in ids(result)) is caution


def test_a_second_course_waits_eight_weeks_after_the_last_dose():
    too_soon = screen(given(previous_course_last_dose=TODAY - dt.timedelta(days=55)))
    assert too_soon.outcome == Outcome.NOT_ELIGIBLE
    finding = next(f for f in too_soon.findings if f.id == "second_course_too_soon")
    assert "First allowed start: 2026-11-26" in finding.message
    on_time = screen(given(previous_course_last_dose=TODAY - dt.timedelta(days=56)))
    assert "second_course_too_soon" not in ids(on_time)


# Allergies: what each one does to the outcome and the products, as the sources say.
ALLERGIES = [
    ("Accutane", "allergen:isotretinoin", Outcome.NOT_ELIGIBLE, None),
    ("vitamin A", "allergen:vitamin_a", Outcome.NOT_ELIGIBLE, None),
    ("tretinoin cream", "allergen:other_retinoid", Outcome.ELIGIBLE_WITH_CAUTIONS, US_PRODUCTS),
    ("Soya", "allergen:soy", Outcome.NOT_ELIGIBLE, set()),
    ("peanuts (anaphylaxis)", "allergen:peanut", Outcome.NOT_ELIGIBLE, set()),
    ("methylparaben", "allergen:parabens", Outcome.ELIGIBLE_WITH_CAUTIONS,
     US_PRODUCTS - {"zenatane", "sotret"}),
    ("FD&C Yellow No. 5", "allergen:tartrazine", Outcome.ELIGIBLE_WITH_CAUTIONS, US_PRODUCTS),
]  # fmt: skip


@pytest.mark.parametrize(("allergy", "finding", "outcome", "products"), ALLERGIES)
def test_each_allergy_has_the_effect_its_source_gives(allergy, finding, outcome, products):
    result = screen(given(allergies=(allergy,)))
    assert finding in ids(result)
    assert result.outcome == outcome
    if products is not None:
        assert safe(result) == products
    if products == set():
        assert "no_safe_product" in ids(result)


def test_every_allergen_of_the_data_is_in_the_table_above():
    assert {a.id for a in KNOWLEDGE.allergens} == {f.split(":")[1] for _, f, _, _ in ALLERGIES}


def test_a_tartrazine_allergy_removes_only_absorica_25_mg():
    result = screen(given(allergies=("tartrazine",)))
    absorica = next(p for p in result.safe_products if p.slug == "absorica")
    assert [s.mg for s in absorica.strengths] == [10, 20, 30, 35, 40]
    assert any("25 mg excluded" in note for note in absorica.notes)
    # Whether a generic 25 mg contains tartrazine is unconfirmed: it counts as present (safer).
    generic = next(p for p in result.safe_products if p.slug == "isotretinoin")
    assert [s.mg for s in generic.strengths] == [10, 20, 30, 35, 40]
    assert any(
        n.startswith("25 mg excluded: may contain (unconfirmed) tartrazine") for n in generic.notes
    )


def test_a_paraben_allergy_excludes_zenatane_with_the_reason():
    result = screen(given(allergies=("parabens",)))
    reasons = {p.slug.value: p.reasons for p in result.excluded_products}
    assert reasons["zenatane"] == ("contains parabens: the patient is allergic to parabens",)
    assert reasons["sotret"][0].startswith("may contain (unconfirmed) parabens")


def test_a_peanut_allergy_may_be_set_to_a_caution_by_the_clinic():
    result = screen(given(allergies=("peanut",)), overrides={"allergen:peanut": "caution"})
    assert result.outcome == Outcome.ELIGIBLE_WITH_CAUTIONS
    assert safe(result) == US_PRODUCTS


# Medicines: (what the patient takes, finding, severity in the US, in the UK).
MEDICINES = [
    (MedicineInput("Vitamin A 10,000 IU"), "interaction:vitamin_a_supplements", "caution",
     "caution"),
    (MedicineInput("acitretin 25 mg"), "interaction:systemic_retinoids", "caution", "caution"),
    (MedicineInput("Minocycline 100mg tablets"), "interaction:tetracyclines", "caution",
     "contraindication"),
    (MedicineInput("Solodyn", rxnorm="6980"), "interaction:tetracyclines", "caution",
     "contraindication"),
    (MedicineInput("doxycycline"), "interaction:tetracyclines", "caution", "contraindication"),
    (MedicineInput("Cerazette"), "interaction:progestin_only_pill", "caution", "caution"),
    (MedicineInput("St. John's Wort 300 mg"), "interaction:st_johns_wort", "caution", "caution"),
    (MedicineInput("Phenytoin"), "interaction:phenytoin", "caution", "caution"),
    (MedicineInput("carbamazepine", rxnorm="2002"), "interaction:carbamazepine", "caution",
     "caution"),
    (MedicineInput("warfarin 5 mg"), "interaction:counsel_only", "info", "info"),
    (MedicineInput("prednisolone 20 mg"), "interaction:systemic_corticosteroids", "caution",
     "caution"),
    (MedicineInput("benzoyl peroxide 5% gel"), "interaction:topical_drying_agents", "info",
     "info"),
]  # fmt: skip


@pytest.mark.parametrize(("medicine", "finding", "us", "uk"), MEDICINES)
def test_each_interacting_medicine_is_found_with_its_severity(medicine, finding, us, uk):
    for jurisdiction, severity in ((Jurisdiction.US, us), (Jurisdiction.UK, uk)):
        result = screen(
            given(medicines=(medicine,), can_become_pregnant=True, jurisdiction=jurisdiction)
        )
        found = [f for f in result.findings if f.id == finding]
        assert [f.severity.value for f in found] == [severity], jurisdiction
        assert found[0].matched == medicine.name


def test_every_interaction_of_the_data_is_in_the_table_above():
    assert {i.id for i in KNOWLEDGE.interactions} == {f.split(":")[1] for _, f, _, _ in MEDICINES}


@pytest.mark.parametrize(
    "medicine", ["hydrocortisone cream 1%", "clindamycin 1% gel for the face", "ibuprofen"]
)
def test_a_medicine_outside_the_list_is_reported_for_review_not_ignored(medicine):
    result = screen(given(medicines=(MedicineInput(medicine),)))
    review = [f for f in result.findings if f.id == "medicine_not_recognised"]
    assert [f.matched for f in review] == [medicine]
    assert result.outcome == Outcome.ELIGIBLE_WITH_CAUTIONS


def test_a_progestin_only_pill_matters_only_for_someone_who_can_become_pregnant():
    pill = (MedicineInput("norethindrone 0.35 mg"),)
    assert "interaction:progestin_only_pill" not in ids(screen(given(medicines=pill)))
    unknown = screen(given(medicines=pill, can_become_pregnant=None))
    assert "interaction:progestin_only_pill" in ids(unknown)


def test_a_combined_pill_is_not_taken_for_a_progestin_only_pill():
    combined = (MedicineInput("norethindrone 0.35 mg / ethinyl estradiol"),)
    result = screen(given(medicines=combined, can_become_pregnant=True))
    assert "interaction:progestin_only_pill" not in ids(result)


# History: (what the form or the patient says, finding, severity in the US, in the EU).
HISTORY = [
    ("depression", "condition:depression", "caution", "caution"),
    ("bipolar disorder", "condition:psychiatric_illness", "caution", "caution"),
    ("Crohn's disease", "condition:inflammatory_bowel_disease", "caution", "caution"),
    ("high triglycerides", "condition:raised_lipids", "caution", "caution"),
    ("type 1 diabetes", "condition:diabetes", "caution", "caution"),
    ("hepatitis B", "condition:liver_disease", "caution", "contraindication"),
    ("osteoporosis", "condition:bone_disease", "caution", "caution"),
    ("tinnitus", "condition:hearing_problems", "caution", "caution"),
    ("wears contact lenses", "condition:vision_problems", "caution", "caution"),
    ("hypervitaminosis A", "condition:hypervitaminosis_a", "contraindication", "contraindication"),
]


@pytest.mark.parametrize(("history", "finding", "us", "eu"), HISTORY)
def test_each_history_item_is_found_with_its_severity(history, finding, us, eu):
    for jurisdiction, severity in ((Jurisdiction.US, us), (Jurisdiction.EU, eu)):
        result = screen(given(history=(history,), jurisdiction=jurisdiction))
        assert [f.severity.value for f in result.findings if f.id == finding] == [severity]


def test_every_condition_of_the_data_is_in_the_table_above():
    assert {c.id for c in KNOWLEDGE.conditions} == {f.split(":")[1] for _, f, _, _ in HISTORY}


def test_a_history_item_given_by_id_matches_that_condition():
    result = screen(given(history=("inflammatory_bowel_disease",)))
    assert ids(result) == {"condition:inflammatory_bowel_disease"}


@pytest.mark.parametrize("kind", ["allergies", "history"])
def test_unrecognised_allergies_and_history_are_listed_for_review(kind):
    result = screen(given(**{kind: ("asthma",)}))
    assert [f.matched for f in result.findings if f.id.endswith("not_recognised")] == ["asthma"]


def test_every_finding_is_reported_not_only_the_first():
    result = screen(
        given(
            allergies=("parabens",),
            medicines=(MedicineInput("minocycline"),),
            history=("depression",),
            failed_treatments=(),
        )
    )
    assert ids(result) == {
        "allergen:parabens",
        "interaction:tetracyclines",
        "condition:depression",
        "no_failed_oral_antibiotic",
    }


def test_every_patient_hears_the_household_warnings():
    counselling = {c.id for c in screen(given()).counselling}
    assert {
        "no_sharing",
        "no_blood_donation",
        "no_handling_when_pregnant",
        "no_waxing_or_laser",
    } <= counselling


def test_a_confirmed_entry_cannot_be_overridden():
    with pytest.raises(OverrideError, match="the sources confirm this entry"):
        screen(given(), overrides={"rule:pregnant": "caution"})


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"rule:nonsense": "info"}, "no such entry"),
        ({"allergen:peanut": "ignore"}, "'ignore' is not one of contraindication, caution, info"),
    ],
)
def test_a_bad_override_is_refused_naming_it(overrides, message):
    with pytest.raises(OverrideError, match=message):
        screen(given(), overrides=overrides)


def test_every_term_of_every_entry_finds_itself():
    for table in (KNOWLEDGE.allergens, KNOWLEDGE.interactions, KNOWLEDGE.conditions):
        for entry in table:
            for term in entry.terms:
                assert entry.find(term), (entry.id, term)


def test_every_screening_entry_has_a_source_and_a_status():
    tables = [
        KNOWLEDGE.rules,
        KNOWLEDGE.indications,
        KNOWLEDGE.prior_treatments,
        KNOWLEDGE.allergens,
        KNOWLEDGE.interactions,
        KNOWLEDGE.conditions,
        KNOWLEDGE.counselling,
    ]
    for table in tables:
        assert table
        for entry in table:
            assert entry.source.strip() and entry.status in Status, entry


@hypothesis_given(st.sets(st.sampled_from([a.id for a in KNOWLEDGE.allergens])))
def test_no_offered_strength_contains_an_ingredient_the_patient_is_allergic_to(allergen_ids):
    allergens = [a for a in KNOWLEDGE.allergens if a.id in allergen_ids]
    result = screen(given(allergies=tuple(a.terms[0] for a in allergens)))
    forbidden = {e for a in allergens for e in a.excipients}
    catalogue = load_catalogue()
    for option in result.safe_products:
        product = catalogue.product(option.slug)
        for strength in option.strengths:
            contained = {e.slug for e in product.excipients if e.in_strength(strength.mg)}
            assert not contained & forbidden, (option.slug, strength.mg)
    if result.outcome != Outcome.NOT_ELIGIBLE:
        assert result.safe_products


@hypothesis_given(
    pregnant=st.booleans(),
    breastfeeding=st.booleans(),
    allergies=st.lists(st.sampled_from(["parabens", "soy", "tretinoin", "penicillin", "vitamin a"]),
                       max_size=3),
    medicines=st.lists(st.sampled_from(["minocycline", "ibuprofen", "benzoyl peroxide",
                                        "cerazette"]), max_size=3),
    history=st.lists(st.sampled_from(["depression", "hepatitis", "asthma"]), max_size=2),
    jurisdiction=st.sampled_from(list(Jurisdiction)),
)  # fmt: skip
def test_the_outcome_is_that_of_the_most_severe_finding(
    pregnant, breastfeeding, allergies, medicines, history, jurisdiction
):
    result = screen(given(
        pregnant=pregnant, breastfeeding=breastfeeding, allergies=tuple(allergies),
        medicines=tuple(MedicineInput(m) for m in medicines), history=tuple(history),
        jurisdiction=jurisdiction, can_become_pregnant=True,
    ))  # fmt: skip
    severities = {f.severity for f in result.findings}
    if Severity.CONTRAINDICATION in severities:
        assert result.outcome == Outcome.NOT_ELIGIBLE
    elif Severity.CAUTION in severities:
        assert result.outcome == Outcome.ELIGIBLE_WITH_CAUTIONS
    else:
        assert result.outcome == Outcome.ELIGIBLE
    if pregnant or breastfeeding:
        assert result.outcome == Outcome.NOT_ELIGIBLE


def test_every_us_patient_is_told_to_enrol_in_ipledge_and_no_one_else():
    assert "us_enrolment" in {f.id for f in screen(given()).findings}
    assert "us_enrolment" not in {
        f.id for f in screen(given(jurisdiction=Jurisdiction.UK)).findings
    }


def test_eu_and_uk_also_expect_a_failed_topical_treatment():
    oral_only = given(failed_treatments=("oral_minocycline",))
    assert "no_failed_topical" not in ids(screen(oral_only))
    assert "no_failed_topical" in ids(
        screen(dataclasses.replace(oral_only, jurisdiction=Jurisdiction.EU))
    )


def test_a_pregnant_patient_recorded_as_unable_to_become_pregnant_is_flagged():
    result = screen(given(pregnant=True, can_become_pregnant=False))
    assert {"pregnant", "pregnancy_potential_contradiction"} <= ids(result)


@pytest.mark.parametrize("nothing", ["none", "NKDA", "No known allergies", "nil", "N/A"])
def test_a_line_that_says_there_is_nothing_is_not_a_finding(nothing):
    assert screen(given(allergies=(nothing,), history=(nothing,))).outcome == Outcome.ELIGIBLE


@pytest.mark.parametrize(
    ("kind", "text"),
    [
        ("allergies", "no soy allergy"),
        ("allergies", "not allergic to isotretinoin"),
        ("history", "no history of depression"),
        ("history", "denies depression"),
    ],
)
def test_a_negated_line_is_never_matched_and_is_sent_for_review(kind, text):
    result = screen(given(**{kind: (text,)}))
    assert result.outcome == Outcome.ELIGIBLE_WITH_CAUTIONS
    review = [f for f in result.findings if f.id.endswith("not_recognised")]
    assert [f.matched for f in review] == [text]
    assert "reads as a negation" in review[0].message
    assert safe(result) == US_PRODUCTS


def test_a_line_naming_several_medicines_is_read_part_by_part():
    line = MedicineInput("minocycline 100mg, also clindamycin gel; benzoyl peroxide + vitamin A")
    result = screen(given(medicines=(line,)))
    found = {f.id: f.matched for f in result.findings}
    assert found["interaction:tetracyclines"] == "minocycline 100mg"
    assert found["interaction:vitamin_a_supplements"] == "vitamin A"
    assert found["interaction:topical_drying_agents"] == "benzoyl peroxide"
    assert found["medicine_not_recognised"] == "clindamycin gel"


def test_a_word_that_cancels_a_match_sends_the_line_for_review_instead_of_dropping_it():
    result = screen(given(medicines=(MedicineInput("doxycycline gel"),)))
    review = [f for f in result.findings if f.id == "medicine_not_recognised"]
    assert "mentions doxycycline but also “gel”" in review[0].message


@pytest.mark.parametrize(
    ("kind", "text", "finding"),
    [
        ("allergies", "isotretinion", "allergen:isotretinoin"),
        ("medicines", "doxycyclin", "interaction:tetracyclines"),
        ("medicines", "norethindrone 0.35mg", "interaction:progestin_only_pill"),
        ("history", "depresion", "condition:depression"),
    ],
)
def test_one_typo_in_a_long_word_is_still_found(kind, text, finding):
    value = (MedicineInput(text),) if kind == "medicines" else (text,)
    result = screen(given(can_become_pregnant=True, **{kind: value}))
    assert finding in ids(result)


def test_a_clinic_may_relax_only_the_unconfirmed_country_part_of_a_confirmed_entry():
    relax = {"interaction:tetracyclines": "caution"}
    minocycline = (MedicineInput("minocycline"),)
    uk = screen(given(jurisdiction=Jurisdiction.UK, medicines=minocycline), overrides=relax)
    assert [f.severity for f in uk.findings if f.id == "interaction:tetracyclines"] == ["caution"]
    weaker = screen(given(medicines=minocycline), overrides={"interaction:tetracyclines": "info"})
    assert [f.severity for f in weaker.findings if f.id == "interaction:tetracyclines"] == [
        "caution"
    ]  # the US caution is confirmed: unchanged


def test_the_uk_tetracycline_contraindication_shows_its_own_unconfirmed_status():
    result = screen(given(jurisdiction=Jurisdiction.UK, medicines=(MedicineInput("doxycycline"),)))
    finding = next(f for f in result.findings if f.id == "interaction:tetracyclines")
    assert (finding.severity, finding.status) == ("contraindication", "unconfirmed")


def test_a_confirmed_excipient_allergy_cannot_be_relaxed():
    with pytest.raises(OverrideError):
        screen(given(allergies=("parabens",)), overrides={"allergen:parabens": "caution"})


def test_generic_capsules_carry_their_rxnorm_codes():
    generic = next(
        p for p in screen(given()).to_dict()["safe_products"] if p["product"] == "isotretinoin"
    )
    assert {s["mg"]: s["rxcui"] for s in generic["strengths"]}[40] == "197845"
