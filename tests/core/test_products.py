"""Product knowledge: every product the sources name, with its strengths, food rule and family."""

from __future__ import annotations

import pytest

from isoguard.core.knowledge.loading import Status
from isoguard.core.knowledge.products import Excipient, load_catalogue
from isoguard.core.vocabulary import Product

CATALOGUE = load_catalogue()

# (product, strengths in mg, taken with food?, dosing family) as clinical.md section 1 gives them.
PRODUCTS = [
    ("absorica", (10, 20, 25, 30, 35, 40), False, "conventional"),
    ("absorica-ld", (8, 16, 20, 24, 28, 32), False, "absorica_ld"),
    ("claravis", (10, 20, 30, 40), True, "conventional"),
    ("amnesteem", (10, 20, 30, 40), True, "conventional"),
    ("myorisan", (10, 20, 30, 40), True, "conventional"),
    ("zenatane", (10, 20, 30, 40), True, "conventional"),
    ("sotret", (10, 20, 30, 40), True, "conventional"),
    ("accutane", (10, 20, 40), True, "conventional"),
    ("roaccutane", (10, 20), True, "conventional"),
    ("isotretinoin", (10, 20, 25, 30, 35, 40), True, "conventional"),
]


@pytest.mark.parametrize(("slug", "strengths", "with_food", "family"), PRODUCTS)
def test_each_product_has_its_strengths_food_rule_and_dosing_family(
    slug, strengths, with_food, family
):
    product = CATALOGUE.product(slug)
    assert product.strength_mgs() == strengths
    assert product.with_food is with_food
    assert product.dosing_family == family


def test_the_table_covers_every_product_of_the_vocabulary():
    assert {slug for slug, *_ in PRODUCTS} == {p.value for p in Product}


@pytest.mark.parametrize(
    ("slug", "mg", "status"),
    [
        ("amnesteem", 30, "confirmed"),
        ("amnesteem", 10, "unconfirmed"),
        ("zenatane", 20, "confirmed"),
        ("zenatane", 40, "unconfirmed"),
        ("sotret", 20, "unconfirmed"),
        ("claravis", 40, "confirmed"),
    ],
)
def test_strengths_keep_the_status_the_sources_give(slug, mg, status):
    strength = next(s for s in CATALOGUE.product(slug).strengths if s.mg == mg)
    assert strength.status == status


def test_absorica_ld_is_its_own_family_and_never_substitutable():
    ld = CATALOGUE.product("absorica-ld")
    family = CATALOGUE.family(ld.dosing_family)
    assert (family.usual_min_mg_per_kg_day, family.usual_max_mg_per_kg_day) == (0.4, 0.8)
    assert family.label_max_mg_per_kg_day == 1.6
    assert not ld.substitutable
    conventional = CATALOGUE.family("conventional")
    assert (conventional.usual_min_mg_per_kg_day, conventional.label_max_mg_per_kg_day) == (
        0.5,
        2.0,
    )


@pytest.mark.parametrize(
    ("slug", "excipient", "strengths"),
    [
        ("zenatane", Excipient.PARABENS, ()),
        ("absorica", Excipient.TARTRAZINE, (25,)),
        ("amnesteem", Excipient.SOY_LECITHIN, ()),
    ],
)
def test_allergy_relevant_excipients_are_where_the_sources_put_them(slug, excipient, strengths):
    entry = next(e for e in CATALOGUE.product(slug).excipients if e.slug == excipient)
    assert entry.strengths == strengths and entry.status == Status.CONFIRMED


def test_every_product_contains_soybean_oil_as_every_product_seen_does():
    for product in CATALOGUE.products:
        assert Excipient.SOYBEAN_OIL in {e.slug for e in product.excipients}, product.slug


def test_every_product_strength_and_excipient_has_a_source():
    for product in CATALOGUE.products:
        assert product.source.strip()
        for item in (*product.strengths, *product.excipients):
            assert item.source.strip() and item.status in Status, (product.slug, item)
    for family in CATALOGUE.families:
        assert family.source.strip()


def test_an_unknown_product_names_the_known_ones():
    with pytest.raises(KeyError, match="claravis"):
        CATALOGUE.product("tretinoin")


def test_every_generic_strength_has_its_confirmed_rxnorm_clinical_drug():
    from isoguard.core.knowledge.codes import load_codes

    codes = load_codes()
    generic = CATALOGUE.product("isotretinoin")
    assert {mg: codes.capsule_rxcui(mg) for mg in generic.strength_mgs()} == {
        10: "197843",
        20: "197844",
        25: "1547561",
        30: "403930",
        35: "1547565",
        40: "197845",
    }
    assert codes.capsule_rxcui(8) is None  # Absorica LD strengths have no confirmed code
