"""The planner's limits, notes and patient instructions, from knowledge/dosing.toml."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import cache

from isoguard.core.knowledge.loading import KnowledgeError, Status, entries, read_toml


class Applies(StrEnum):
    """Which products an instruction is for, by their food rule."""

    ALL = "all"
    WITH_FOOD = "with_food"
    FOOD_OPTIONAL = "food_optional"


@dataclass(frozen=True)
class Quantity:
    id: str
    value: float
    unit: str
    status: Status
    source: str
    note: str = ""


@dataclass(frozen=True)
class Note:
    id: str
    message: str
    status: Status
    source: str


@dataclass(frozen=True)
class Instruction:
    id: str
    message: str
    applies: Applies
    status: Status
    source: str

    def is_for(self, *, with_food: bool) -> bool:
        """Return whether a product with this food rule shows the instruction."""
        if self.applies == Applies.ALL:
            return True
        return (self.applies == Applies.WITH_FOOD) == with_food


@dataclass(frozen=True)
class DosingKnowledge:
    quantities: tuple[Quantity, ...]
    notes: tuple[Note, ...]
    instructions: tuple[Instruction, ...]

    def value(self, quantity_id: str) -> float:
        return self.quantity(quantity_id).value

    def quantity(self, quantity_id: str) -> Quantity:
        return next(q for q in self.quantities if q.id == quantity_id)

    def note(self, note_id: str) -> Note:
        return next(n for n in self.notes if n.id == note_id)

    def instructions_for(self, *, with_food: bool) -> tuple[Instruction, ...]:
        """Return what a patient on a product with this food rule is told, in file order."""
        return tuple(i for i in self.instructions if i.is_for(with_food=with_food))


QUANTITY_IDS = {
    "weight_kg_min", "weight_kg_max", "target_default", "target_usual_max", "target_min",
    "target_max", "course_weeks_min", "course_weeks_max", "second_course_gap_weeks", "fill_days",
    "rounding_warning_percent",
}  # fmt: skip
NOTE_IDS = {"rounding", "default_dose", "target_evidence", "target_high", "ld_target"}
WHOLE_NUMBERS = {"second_course_gap_weeks", "fill_days"}


@cache
def load_dosing() -> DosingKnowledge:
    """Load and validate dosing.toml (once per process)."""
    where = "dosing.toml"
    data = read_toml(where)
    unknown = set(data) - {"quantity", "note", "instruction"}
    if unknown:
        raise KnowledgeError(f"{where}: unknown table {sorted(unknown)[0]!r}")
    knowledge = DosingKnowledge(
        quantities=entries(data, "quantity", Quantity, where=where),
        notes=entries(data, "note", Note, where=where),
        instructions=entries(data, "instruction", Instruction, where=where),
    )
    _check(knowledge, where)
    return knowledge


def _check(knowledge: DosingKnowledge, where: str) -> None:
    for table, expected, rows in (
        ("quantity", QUANTITY_IDS, knowledge.quantities),
        ("note", NOTE_IDS, knowledge.notes),
    ):
        ids = [row.id for row in rows]
        if len(set(ids)) != len(ids) or set(ids) != expected:
            raise KnowledgeError(
                f"{where}: [[{table}]] ids must be exactly the ones the code uses; "
                f"missing {sorted(expected - set(ids))}, unknown {sorted(set(ids) - expected)}"
            )
    instruction_ids = [i.id for i in knowledge.instructions]
    if len(set(instruction_ids)) != len(instruction_ids):
        raise KnowledgeError(f"{where}: duplicate [[instruction]] id among {instruction_ids}")
    value = knowledge.value
    in_order = (
        0 < value("weight_kg_min") < value("weight_kg_max")
        and 0 < value("target_min") <= value("target_default")
        and value("target_default") <= value("target_usual_max") <= value("target_max")
        and 0 < value("course_weeks_min") <= value("course_weeks_max")
        and value("rounding_warning_percent") > 0
    )
    if not in_order:
        raise KnowledgeError(f"{where}: the limits are not in order (min <= default <= max)")
    for quantity_id in WHOLE_NUMBERS:
        if value(quantity_id) <= 0 or not value(quantity_id).is_integer():
            raise KnowledgeError(f"{where}: {quantity_id} must be a positive whole number")
