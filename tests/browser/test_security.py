"""In Chromium: the Content-Security-Policy blocks nothing isoguard itself uses, a lockout says
when to try again, and a prescriber sets up and uses two-factor login."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

from isoguard.demo import DEMO_PASSWORD
from tests.browser.conftest import log_in

pytestmark = pytest.mark.browser

# Run before each page's own scripts: record every CSP violation, and stand in for the print
# dialog so that the Print button's inline handler can be seen to run.
WATCH = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sample}`);
});
window.print = () => { window.__printed = true; };
"""


@pytest.fixture
def watched(page):
    page.add_init_script(WATCH)
    return page


def violations(page) -> list[str]:
    return page.evaluate("window.__csp")


def test_pages_work_under_the_content_security_policy(demo, watched):
    from isoguard.patients.models import Patient

    page = watched
    page.goto("/accounts/login/")
    assert violations(page) == []  # the card's inline style is allowed by its hash

    log_in(page, "alice", DEMO_PASSWORD)
    page.get_by_role("link", name="Tick today's doses").click()
    page.get_by_role("button", name="taken").first.click()  # htmx swaps the diary in place
    expect(page.get_by_test_id("diary")).to_be_visible()
    assert page.evaluate("document.querySelector('style') !== null")  # htmx's indicator style
    assert violations(page) == []
    page.get_by_role("button", name="Log out").click()

    fatima = Patient.objects.get(given_name="Fatima")
    log_in(page, "dr.rivera", DEMO_PASSWORD)
    page.goto(f"/patients/{fatima.pk}/summary/")
    page.get_by_role("button", name="Print").click()
    assert page.evaluate("window.__printed === true")
    assert violations(page) == []


def test_a_locked_out_person_is_told_when_to_try_again_and_who_can_help(demo, page):
    for _ in range(5):
        log_in(page, "ben", "not-his-password")
    alert = page.get_by_test_id("lockout")
    expect(alert).to_contain_text("Too many failed log-ins")
    expect(alert).to_contain_text("locked until")
    expect(alert).to_contain_text("administrator")
    log_in(page, "ben", DEMO_PASSWORD)
    expect(page.get_by_test_id("lockout")).to_be_visible()


def code_for(username: str, steps_ahead: int = 0) -> str:
    from django_otp.oath import TOTP
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.get(user__username=username)
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + steps_ahead * device.step
    return f"{totp.token():06d}"


def test_a_prescriber_sets_up_two_factor_login_and_is_asked_for_a_code_next_time(demo, watched):
    page = watched
    log_in(page, "dr.rivera", DEMO_PASSWORD)
    page.goto("/accounts/security/")
    page.get_by_role("button", name="Set up two-factor login").click()
    expect(page.get_by_test_id("two-factor-qr").locator("svg")).to_be_visible()
    page.get_by_label("Then enter the 6-digit code the app shows").fill(code_for("dr.rivera"))
    page.get_by_role("button", name="Turn on two-factor login").click()
    expect(page.get_by_test_id("two-factor-status")).to_contain_text("On.")
    page.get_by_role("button", name="Log out").first.click()

    log_in(page, "dr.rivera", DEMO_PASSWORD)
    expect(page.get_by_role("heading", level=1)).to_have_text("Enter your code")
    page.get_by_label("Code").fill(code_for("dr.rivera", steps_ahead=1))
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Patients of Riverside Dermatology")
    assert violations(page) == []
