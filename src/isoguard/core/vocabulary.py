"""The product's controlled vocabulary, shared by the core, the database and the scenario format.

The values are the slugs of `DESIGN.md` (scenario format v1); changing one breaks a contract.
"""

from __future__ import annotations

from enum import StrEnum


class Jurisdiction(StrEnum):
    US = "US"
    EU = "EU"
    UK = "UK"


class Product(StrEnum):
    """Isotretinoin products, named by the lowercase slugs of the command line and scenarios."""

    SOTRET = "sotret"
    ACCUTANE = "accutane"
    ROACCUTANE = "roaccutane"
    ABSORICA = "absorica"
    ABSORICA_LD = "absorica-ld"
    AMNESTEEM = "amnesteem"
    CLARAVIS = "claravis"
    MYORISAN = "myorisan"
    ZENATANE = "zenatane"
    ISOTRETINOIN = "isotretinoin"


class RulePack(StrEnum):
    """The programme rule packs (DESIGN.md): one per edition of each country's programme."""

    US_IPLEDGE_2023 = "us-ipledge-2023"
    US_IPLEDGE_2026 = "us-ipledge-2026"
    EU_PPP_2018 = "eu-ppp-2018"
    UK_MHRA_2026 = "uk-mhra-2026"


class Action(StrEnum):
    PRESCRIBE = "prescribe"
    DISPENSE = "dispense"
    START_COURSE = "start_course"


class Role(StrEnum):
    PRESCRIBER = "prescriber"
    CLINIC_STAFF = "clinic_staff"
    PHARMACIST = "pharmacist"
    PATIENT = "patient"
    GUARDIAN = "guardian"
    ADMINISTRATOR = "administrator"


class CourseStatus(StrEnum):
    """A course's lifecycle: screening, enrolled, active, then completed; or stopped."""

    SCREENING = "screening"
    ENROLLED = "enrolled"
    ACTIVE = "active"
    COMPLETED = "completed"
    STOPPED = "stopped"


class ConsentKind(StrEnum):
    INFORMED_CONSENT = "informed_consent"
    PREGNANCY_PREVENTION = "pregnancy_prevention"
    ACKNOWLEDGEMENT_OF_RISK = "acknowledgement_of_risk"


class ContraceptionMethod(StrEnum):
    IUD = "iud"
    IMPLANT = "implant"
    INJECTION = "injection"
    COMBINED_PILL = "combined_pill"
    PROGESTIN_ONLY_PILL = "progestin_only_pill"
    VAGINAL_RING = "vaginal_ring"
    PATCH = "patch"
    TUBAL_STERILISATION = "tubal_sterilisation"
    PARTNER_VASECTOMY = "partner_vasectomy"
    MALE_CONDOM = "male_condom"
    DIAPHRAGM = "diaphragm"
    CERVICAL_CAP = "cervical_cap"
    SPONGE = "sponge"
    ABSTINENCE = "abstinence"


class PregnancyTestResult(StrEnum):
    NEGATIVE = "negative"
    POSITIVE = "positive"


class PregnancyTestSetting(StrEnum):
    LAB = "lab"
    CLINIC = "clinic"
    HOME = "home"


class LabTest(StrEnum):
    TRIGLYCERIDES = "triglycerides"
    CHOLESTEROL_TOTAL = "cholesterol_total"
    LDL = "ldl"
    HDL = "hdl"
    ALT = "alt"
    AST = "ast"


class MoodTool(StrEnum):
    PHQ9 = "phq9"
    PHQ_A = "phq_a"


class MonthlyCheckKind(StrEnum):
    """Monthly duties that are not tests: counselling, comprehension, contraception."""

    COUNSELLING = "counselling"
    COMPREHENSION = "comprehension"
    CONTRACEPTION_CONFIRMED = "contraception_confirmed"


class DoseTime(StrEnum):
    MORNING = "morning"
    EVENING = "evening"


class FindingStatus(StrEnum):
    MET = "met"
    UNMET = "unmet"
    DUE = "due"
    OVERDUE = "overdue"
