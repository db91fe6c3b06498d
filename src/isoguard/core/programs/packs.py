"""Rule packs: versioned, effective-dated data (knowledge/rules/*.toml) turned into rule objects."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from functools import cache
from typing import Any

from isoguard.core.knowledge.loading import KnowledgeError, Status, entry, read_toml
from isoguard.core.programs.rules import RULE_TYPES, Rule
from isoguard.core.vocabulary import Action, Jurisdiction, RulePack


class AppliesTo(StrEnum):
    EVERYONE = "everyone"
    CAN_BECOME_PREGNANT = "can_become_pregnant"
    CANNOT_BECOME_PREGNANT = "cannot_become_pregnant"


@dataclass(frozen=True)
class RuleSpec:
    id: str
    type: str
    actions: tuple[Action, ...]
    applies_to: AppliesTo
    status: Status
    source: str
    params: dict[str, Any] = field(default_factory=dict)
    note: str = ""


@dataclass(frozen=True)
class PackHeader:
    id: RulePack
    jurisdiction: Jurisdiction
    title: str
    time_zone: str
    time_zone_note: str
    status: Status
    source: str
    post_course_test_months: int
    post_course_test_weeks: int
    post_course_source: str
    contraception_after_months: int
    contraception_after_source: str
    monthly_test_source: str
    fill_window_source: str


@dataclass(frozen=True)
class PackRule:
    spec: RuleSpec
    rule: Rule


@dataclass(frozen=True)
class Pack:
    header: PackHeader
    rules: tuple[PackRule, ...]

    @property
    def id(self) -> RulePack:
        return self.header.id

    def rules_for(
        self, can_become_pregnant: bool | None, action: Action | None = None
    ) -> list[PackRule]:
        """The rules that apply to this patient (and to this action, if given), in the pack's
        order: the one reading of `applies_to`, for the decisions and the timeline alike. A
        patient not assessed (None) counts as able to become pregnant, as the Context reads it:
        the stricter rules."""
        wanted = {
            AppliesTo.EVERYONE,
            AppliesTo.CAN_BECOME_PREGNANT
            if can_become_pregnant is not False
            else AppliesTo.CANNOT_BECOME_PREGNANT,
        }
        return [
            r for r in self.rules
            if r.spec.applies_to in wanted and (action is None or action in r.spec.actions)
        ]  # fmt: skip


class PackSettingError(ValueError):
    """A setting names an unknown rule or parameter, or tries to change a confirmed rule."""


def _file_name(pack_id: RulePack) -> str:
    return f"rules/{pack_id.value}.toml"


@cache
def load_pack(pack_id: RulePack | str) -> Pack:
    """Load and validate one pack: unknown keys, rule types or parameters are errors."""
    pack_id = RulePack(pack_id)
    where = _file_name(pack_id)
    data = read_toml(where)
    rules_data = data.pop("rule", [])
    header = entry(data, PackHeader, where=where)
    if header.id != pack_id:
        raise KnowledgeError(f"{where}: id {header.id!r} does not match the file name")
    rules = []
    seen: set[str] = set()
    for number, row in enumerate(rules_data, start=1):
        spec = entry(row, RuleSpec, where=f"{where} [[rule]] #{number}")
        if spec.id in seen:
            raise KnowledgeError(f"{where}: duplicate rule id {spec.id!r}")
        seen.add(spec.id)
        rules.append(PackRule(spec, _build(spec, spec.params, where=f"{where} rule {spec.id}")))
    return Pack(header, tuple(rules))


def _build(spec: RuleSpec, params: Mapping[str, Any], *, where: str) -> Rule:
    rule_type = RULE_TYPES.get(spec.type)
    if rule_type is None:
        raise KnowledgeError(
            f"{where}: unknown rule type {spec.type!r}; known: {', '.join(sorted(RULE_TYPES))}"
        )
    return rule_type(entry(dict(params), rule_type.Params, where=f"{where} params"))


def pack_with_settings(pack: Pack, settings: Mapping[str, Mapping[str, Any]]) -> Pack:
    """Return the pack with a clinic's changes to rules the sources do not confirm.

    `settings` maps a rule id to new parameter values; a confirmed rule cannot change.
    """
    if not settings:
        return pack
    by_id = {r.spec.id: r for r in pack.rules}
    for rule_id in settings:
        if rule_id not in by_id:
            raise PackSettingError(f"{pack.id}: no rule {rule_id!r}")
        if by_id[rule_id].spec.status == Status.CONFIRMED:
            raise PackSettingError(f"{pack.id}: rule {rule_id!r} is confirmed by its sources")
    rules = []
    for pack_rule in pack.rules:
        changes = settings.get(pack_rule.spec.id) or {}
        if changes:
            params = {**pack_rule.spec.params, **changes}
            try:
                rule = _build(
                    pack_rule.spec, params, where=f"{pack.id} setting {pack_rule.spec.id}"
                )
            except KnowledgeError as error:
                raise PackSettingError(str(error)) from None
            pack_rule = PackRule(replace(pack_rule.spec, params=params), rule)
        rules.append(pack_rule)
    return Pack(pack.header, tuple(rules))
