"""The programme rule engine: may this prescription, fill or first dose happen now, and why?

`evaluate()` is pure and deterministic: the same record, action and moment give the same
decision, with every finding of every rule that applies (never only the first).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from isoguard.core import model
from isoguard.core.knowledge.packs import pack_in_force
from isoguard.core.programs.context import Context
from isoguard.core.programs.packs import load_pack, pack_with_settings
from isoguard.core.programs.rules import status_of
from isoguard.core.vocabulary import Action, RulePack

if TYPE_CHECKING:
    from isoguard.core.scenario import Scenario

# The last day to dispense is a property of the fill being authorised, not of a first dose.
DISPENSE_BY_ACTIONS = (Action.PRESCRIBE, Action.DISPENSE)


def evaluate(
    record: model.CourseRecord,
    action: Action | str,
    as_of: dt.datetime,
    *,
    pack: RulePack | str | None = None,
    settings: Mapping[str, Mapping[str, Any]] | None = None,
    pack_starts: Mapping[str, dt.date] | None = None,
) -> model.Decision:
    """Return whether `action` is allowed on `as_of`, with every finding behind the answer.

    The pack is `pack`, else the record's, else the one in force for the record's country on
    `as_of` (`pack_starts` moves an edition's start date, as a clinic's settings may).
    """
    if as_of.tzinfo is None:
        raise ValueError("as_of must be an aware datetime")
    action = Action(action)
    pack_id = (
        pack
        or record.pack
        or pack_in_force(
            record.jurisdiction,
            _programme_day(record.jurisdiction, as_of),
            starts=dict(pack_starts or {}),
        )
    )
    loaded = pack_with_settings(load_pack(pack_id), settings or {})
    ctx = Context(record, action, as_of, loaded.header.time_zone)
    findings: list[model.Finding] = []
    dispense_by: dt.date | None = None
    for pack_rule in loaded.rules_for(ctx.can_become_pregnant, ctx.action):
        verdict = pack_rule.rule.check(ctx)
        findings.append(
            model.Finding(
                rule=pack_rule.spec.id, status=status_of(verdict), message=verdict.message,
                source=pack_rule.spec.source, deadline=verdict.deadline,
            )
        )  # fmt: skip
        if verdict.dispense_by is not None:
            dispense_by = min(dispense_by or verdict.dispense_by, verdict.dispense_by)
    # No rule applying is a broken pack, never a licence: nothing is allowed without a finding.
    allowed = bool(findings) and all(f.status == "met" for f in findings)
    if not allowed or action not in DISPENSE_BY_ACTIONS:
        dispense_by = None
    return model.Decision(action, allowed, loaded.id.value, dispense_by, tuple(findings))


def _programme_day(jurisdiction: str, as_of: dt.datetime) -> dt.date:
    """The day of `as_of` where the country's programme counts days (US: Eastern time)."""
    zones = {
        load_pack(p).header.time_zone
        for p in RulePack
        if load_pack(p).header.jurisdiction == jurisdiction
    }
    zone = zones.pop() if len(zones) == 1 else "local"
    return as_of.date() if zone == "local" else as_of.astimezone(ZoneInfo(zone)).date()


def decision_to_dict(decision: model.Decision, scenario_id: str | None = None) -> dict[str, object]:
    """Return the decision as the scenario format prints it (DESIGN.md)."""
    return {
        "id": scenario_id,
        "allowed": decision.allowed,
        "pack": decision.pack,
        "dispense_by": decision.dispense_by.isoformat() if decision.dispense_by else None,
        "findings": [
            {"rule": f.rule, "status": f.status.value, "message": f.message,
             "deadline": f.deadline.isoformat() if f.deadline else None, "source": f.source}
            for f in decision.findings
        ],
    }  # fmt: skip


def evaluate_scenario(scenario: Scenario) -> dict[str, object]:
    """Evaluate one parsed scenario and return the decision as the scenario format prints it."""
    decision = evaluate(scenario.record, scenario.action, scenario.as_of, pack=scenario.pack)
    return decision_to_dict(decision, scenario.id)
