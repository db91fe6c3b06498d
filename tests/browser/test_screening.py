"""A prescriber screens a patient in Chromium and starts a course from the result."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from isoguard.demo import DEMO_PASSWORD
from tests.browser.conftest import log_in

pytestmark = pytest.mark.browser


def test_a_paraben_allergy_and_minocycline_are_both_found_and_zenatane_is_excluded(demo, page):
    log_in(page, "dr.rivera", DEMO_PASSWORD)
    page.get_by_role("link", name="Dev Patel").click()
    page.get_by_role("link", name="Screen for isotretinoin").click()

    # Dev's record already lists minocycline; the prescriber adds the paraben allergy.
    expect(page.get_by_label("Current medicines and supplements (one per line)")).to_have_value(
        "minocycline 100 mg"
    )
    page.get_by_label("Allergies (one per line)").fill("penicillin\nparabens")
    page.get_by_label("Benzoyl peroxide (on the skin)").check()
    page.get_by_label("Can the patient become pregnant?").select_option("no")
    page.get_by_role("button", name="Screen").click()

    expect(page.get_by_test_id("outcome")).to_contain_text("Eligible, with cautions")
    cautions = page.get_by_test_id("cautions")
    expect(cautions.locator('[data-finding="allergen:parabens"]')).to_contain_text(
        "Use a paraben-free product"
    )
    expect(cautions.locator('[data-finding="interaction:tetracyclines"]')).to_contain_text(
        "Stop the tetracycline before starting isotretinoin"
    )
    expect(cautions.locator('[data-finding="allergy_not_recognised"]')).to_contain_text(
        "penicillin"
    )
    safe = page.get_by_test_id("safe-products")
    expect(safe.locator('[data-product="claravis"]')).to_be_visible()
    expect(safe.locator('[data-product="zenatane"]')).to_have_count(0)
    expect(
        page.get_by_test_id("excluded-products").locator('[data-product="zenatane"]')
    ).to_contain_text("contains parabens")

    page.get_by_label("Product").select_option("claravis")
    page.get_by_role("button", name="Start the course").click()
    expect(page.locator(".errorlist")).to_contain_text("Acknowledge the cautions first.")

    page.get_by_label("Product").select_option("claravis")
    page.get_by_label("I have read the cautions and will act on them").check()
    page.get_by_role("button", name="Start the course").click()
    expect(page.locator(".messages")).to_contain_text("Course 1 planned: claravis")
    expect(page.get_by_test_id("course").first).to_contain_text("claravis")


def test_a_form_with_a_mistake_keeps_what_was_typed(demo, page):
    log_in(page, "dr.rivera", DEMO_PASSWORD)
    page.get_by_role("link", name="Dev Patel").click()
    page.get_by_role("link", name="Screen for isotretinoin").click()
    page.get_by_label("Allergies (one per line)").fill("soy")
    page.get_by_label("Other history (one per line)").fill("x" * 250)
    page.get_by_role("button", name="Screen").click()

    expect(page.locator('[data-field="other_history"] .errorlist')).to_contain_text(
        "longer than 200 characters"
    )
    expect(page.get_by_label("Allergies (one per line)")).to_have_value("soy")
