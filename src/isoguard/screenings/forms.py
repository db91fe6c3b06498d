"""The screening form: what the prescriber enters, turned into a screening request."""

from __future__ import annotations

from typing import Any

from django import forms

from isoguard.core.knowledge.screening_data import load_screening
from isoguard.core.screening_input import ScreeningInputError

PREGNANCY_POTENTIAL = [("unknown", "Not yet assessed"), ("yes", "Yes"), ("no", "No")]


def lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


class ScreeningForm(forms.Form):
    diagnosis = forms.ChoiceField(label="Diagnosis")
    failed_treatments = forms.MultipleChoiceField(
        label="Treatments tried that did not work", required=False,
        widget=forms.CheckboxSelectMultiple,
    )  # fmt: skip
    can_become_pregnant = forms.ChoiceField(
        label="Can the patient become pregnant?", choices=PREGNANCY_POTENTIAL,
        help_text="Set on the patient's record with a reason; by reproductive potential, not sex "
        "or gender.",
    )  # fmt: skip
    pregnant = forms.BooleanField(label="Pregnant now", required=False)
    breastfeeding = forms.BooleanField(label="Breastfeeding", required=False)
    allergies = forms.CharField(
        label="Allergies (one per line)", required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    medicines = forms.CharField(
        label="Current medicines and supplements (one per line)", required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )  # fmt: skip
    history = forms.MultipleChoiceField(
        label="History", required=False, widget=forms.CheckboxSelectMultiple
    )
    other_history = forms.CharField(
        label="Other history (one per line)", required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )  # fmt: skip
    previous_course_last_dose = forms.DateField(
        label="Last dose of a previous isotretinoin course", required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )  # fmt: skip

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        knowledge = load_screening()
        self.fields["diagnosis"].choices = [(i.id, i.label) for i in knowledge.indications]
        self.fields["failed_treatments"].choices = [
            (t.id, t.label) for t in knowledge.prior_treatments
        ]
        self.fields["history"].choices = [(c.id, c.label) for c in knowledge.conditions]

    def request_fields(self) -> dict[str, Any]:
        """Return the cleaned form as the fields of a screening request."""
        data = self.cleaned_data
        last_dose = data.get("previous_course_last_dose")
        return {
            "diagnosis": data["diagnosis"],
            "failed_treatments": list(data["failed_treatments"]),
            "can_become_pregnant": {"yes": True, "no": False}.get(data["can_become_pregnant"]),
            "pregnant": data["pregnant"],
            "breastfeeding": data["breastfeeding"],
            "allergies": lines(data["allergies"]),
            "medicines": lines(data["medicines"]),
            "history": [*data["history"], *lines(data["other_history"])],
            "previous_course_last_dose": last_dose.isoformat() if last_dose else None,
        }

    def add_request_error(self, error: ScreeningInputError) -> None:
        """Show an error of the screening request on the form field it came from."""
        root = error.field.split("[")[0].split(".")[0]
        field = {"history": "other_history", "birth_date": None}.get(root, root)
        if field in self.fields:
            self.add_error(field, error.message)
        else:
            self.add_error(None, str(error))


class StartCourseForm(forms.Form):
    product = forms.ChoiceField(label="Product")
    acknowledge_cautions = forms.BooleanField(
        label="I have read the cautions and will act on them", required=False
    )

    def __init__(self, *args: Any, safe_products: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["product"].choices = safe_products
