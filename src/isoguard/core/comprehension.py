"""Comprehension questions of the patient's monthly checklist: which to ask, and the score.

The questions, their explanations and sources live in `knowledge/comprehension.toml`. Each month
a patient answers `count` of those that apply to them (their jurisdiction, and whether they can
become pregnant); every answer must be right to pass. The choice is deterministic: the same
course and month always get the same questions, in the same order, and consecutive months
rotate through the bank. Someone who can become pregnant always gets at least one question on
pregnancy prevention meant for them.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from typing import Any

from isoguard.core.knowledge.loading import KnowledgeError, Status, entries, read_toml
from isoguard.core.vocabulary import Jurisdiction

BANK_FILE = "comprehension.toml"
MIN_QUESTIONS = 20
QUESTIONS_PER_MONTH = 6
MIN_CHOICES = 3
MAX_CHOICES = 4
_SLUG = re.compile(r"[a-z0-9]+(?:_[a-z0-9]+)*")


class AppliesTo(StrEnum):
    EVERYONE = "everyone"
    CAN_BECOME_PREGNANT = "can_become_pregnant"


class Topic(StrEnum):
    PREGNANCY_PREVENTION = "pregnancy_prevention"
    PREGNANCY_TESTS = "pregnancy_tests"
    PRESCRIPTIONS_AND_PHARMACY = "prescriptions_and_pharmacy"
    PROTECTING_OTHERS = "protecting_others"
    WARNING_SIGNS = "warning_signs"
    TAKING_ISOTRETINOIN = "taking_isotretinoin"
    DAILY_LIFE = "daily_life"
    PROGRAMME = "programme"


@dataclass(frozen=True)
class Question:
    id: str
    topic: Topic
    text: str
    choices: tuple[str, ...]
    answer: int
    """The index, from 0, of the right choice."""
    explanation: str
    applies_to: AppliesTo
    jurisdictions: tuple[Jurisdiction, ...]
    status: Status
    source: str

    @property
    def right_choice(self) -> str:
        return self.choices[self.answer]

    def applies(self, *, jurisdiction: Jurisdiction, can_become_pregnant: bool) -> bool:
        """Return whether this question is asked of such a patient."""
        return jurisdiction in self.jurisdictions and (
            self.applies_to == AppliesTo.EVERYONE or can_become_pregnant
        )

    @property
    def prevents_pregnancy(self) -> bool:
        """Whether this is a pregnancy prevention question meant for who can become pregnant."""
        return (
            self.topic == Topic.PREGNANCY_PREVENTION
            and self.applies_to == AppliesTo.CAN_BECOME_PREGNANT
        )


class ComprehensionError(ValueError):
    """An answer sheet does not fit the questions asked; names the question."""

    def __init__(self, question_id: str, message: str) -> None:
        super().__init__(f"question {question_id!r}: {message}")
        self.question_id = question_id


class AnswerOutOfRange(ComprehensionError):
    """An answer is not the index of one of the question's choices."""


@cache
def load_questions() -> tuple[Question, ...]:
    """Load and validate comprehension.toml (once per process)."""
    return parse_questions(read_toml(BANK_FILE), where=BANK_FILE)


def parse_questions(data: dict[str, Any], *, where: str) -> tuple[Question, ...]:
    """Build the bank from parsed TOML, rejecting anything the code does not expect.

    Unknown tables or keys, a missing source, an answer index outside the choices, a duplicate
    id, fewer than MIN_QUESTIONS questions, or a patient for whom a month cannot be filled are
    all errors that name the file and the question.
    """
    unknown = sorted(set(data) - {"question"})
    if unknown:
        raise KnowledgeError(f"{where}: unknown table {unknown[0]!r}; only [[question]] is allowed")
    questions = entries(data, "question", Question, where=where)
    for question in questions:
        _check_question(question, where=where)
    _check_bank(questions, where=where)
    return questions


def _check_question(question: Question, *, where: str) -> None:
    def fail(message: str) -> KnowledgeError:
        return KnowledgeError(f"{where}: question {question.id!r}: {message}")

    if not _SLUG.fullmatch(question.id):
        raise fail("the id must be a slug of lowercase letters, digits and underscores")
    if not question.text.strip() or not question.explanation.strip():
        raise fail("the text and the explanation must not be empty")
    if not MIN_CHOICES <= len(question.choices) <= MAX_CHOICES:
        raise fail(f"needs {MIN_CHOICES} or {MAX_CHOICES} choices, has {len(question.choices)}")
    if any(not choice.strip() for choice in question.choices):
        raise fail("a choice is empty")
    if len({c.strip().casefold() for c in question.choices}) != len(question.choices):
        raise fail("two choices are the same")
    if not 0 <= question.answer < len(question.choices):
        raise fail(
            f"answer {question.answer} is not the index of a choice "
            f"(0 to {len(question.choices) - 1})"
        )
    if not question.jurisdictions:
        raise fail("needs at least one jurisdiction")
    if len(set(question.jurisdictions)) != len(question.jurisdictions):
        raise fail("a jurisdiction is listed twice")


def _check_bank(questions: tuple[Question, ...], *, where: str) -> None:
    seen: set[str] = set()
    for question in questions:
        if question.id in seen:
            raise KnowledgeError(f"{where}: question {question.id!r}: the id is used twice")
        seen.add(question.id)
    if len(questions) < MIN_QUESTIONS:
        raise KnowledgeError(
            f"{where}: the bank needs at least {MIN_QUESTIONS} questions, has {len(questions)}"
        )
    for jurisdiction in Jurisdiction:
        for can_become_pregnant in (False, True):
            pool = [
                q for q in questions
                if q.applies(jurisdiction=jurisdiction, can_become_pregnant=can_become_pregnant)
            ]  # fmt: skip
            who = "can" if can_become_pregnant else "cannot"
            if len(pool) < QUESTIONS_PER_MONTH:
                raise KnowledgeError(
                    f"{where}: only {len(pool)} questions for a patient in {jurisdiction} who "
                    f"{who} become pregnant; a month asks {QUESTIONS_PER_MONTH}"
                )
            if can_become_pregnant and not any(q.prevents_pregnancy for q in pool):
                raise KnowledgeError(
                    f"{where}: no pregnancy_prevention question for patients in {jurisdiction} "
                    "who can become pregnant"
                )


def questions_for(
    *,
    course_key: str,
    month: int,
    jurisdiction: Jurisdiction,
    can_become_pregnant: bool,
    count: int = QUESTIONS_PER_MONTH,
    bank: Sequence[Question] | None = None,
) -> tuple[Question, ...]:
    """Return the questions to ask in month `month` (1 for the first month) of a course.

    The questions that apply are put in an order fixed by `course_key`, and month after month
    the next `count` are taken, wrapping round: every one is asked before any comes back, and
    none twice in a month. For a patient who can become pregnant, the pregnancy prevention
    questions meant for them rotate on their own, one each month (more only if the others are
    too few), so no month is without one; the others rotate as above.
    """
    if month < 1:
        raise ValueError(f"month must be 1 or more, got {month}")
    if count < 1:
        raise ValueError(f"count must be 1 or more, got {count}")
    questions = load_questions() if bank is None else tuple(bank)
    pool = sorted(
        (
            q for q in questions
            if q.applies(jurisdiction=jurisdiction, can_become_pregnant=can_become_pregnant)
        ),
        key=lambda q: _course_order(course_key, q.id),
    )  # fmt: skip
    if count > len(pool):
        raise ValueError(f"{count} questions asked for, but only {len(pool)} apply to this patient")
    if not can_become_pregnant:
        chosen = _rotation(pool, month=month, count=count)
    else:
        prevention = [q for q in pool if q.prevents_pregnancy]
        rest = [q for q in pool if not q.prevents_pregnancy]
        if not prevention:
            raise ValueError("no pregnancy prevention question applies to this patient")
        from_prevention = max(1, count - len(rest))
        chosen = _rotation(prevention, month=month, count=from_prevention) + _rotation(
            rest, month=month, count=count - from_prevention
        )
    return tuple(sorted(chosen, key=lambda q: _course_order(course_key, q.id)))


def _course_order(course_key: str, question_id: str) -> tuple[str, str]:
    """Order questions the same way for one course in every process, differently per course."""
    digest = hashlib.sha256(f"{course_key}\x00{question_id}".encode()).hexdigest()
    return digest, question_id


def _rotation(ordered: Sequence[Question], *, month: int, count: int) -> tuple[Question, ...]:
    """Return month `month`'s `count` consecutive questions of `ordered`, wrapping round."""
    if count == 0:
        return ()
    start = (month - 1) * count % len(ordered)
    return tuple(ordered[(start + i) % len(ordered)] for i in range(count))


@dataclass(frozen=True)
class MarkedAnswer:
    question_id: str
    chosen: int | None
    """The index the patient chose, or None when the question was not answered."""
    right: bool
    right_answer: int
    right_choice: str
    explanation: str


@dataclass(frozen=True)
class Result:
    passed: bool
    """True only when every question was answered right and no answer was to another question."""
    answers: tuple[MarkedAnswer, ...]
    """One per question asked, in the order asked."""
    unanswered: tuple[str, ...]
    unknown: tuple[str, ...]
    """Ids answered that were not asked (a stale or altered form); they fail the attempt."""

    @property
    def wrong(self) -> tuple[str, ...]:
        """The ids of questions answered, but not right."""
        return tuple(a.question_id for a in self.answers if a.chosen is not None and not a.right)


def score(questions: Sequence[Question], answers: Mapping[str, int]) -> Result:
    """Mark the answers (question id -> choice index) to the questions asked.

    Raises AnswerOutOfRange, naming the question, for an index that is not one of its choices.
    """
    if not questions:
        raise ValueError("there are no questions to score")
    asked: set[str] = set()
    marked: list[MarkedAnswer] = []
    for question in questions:
        if question.id in asked:
            raise ComprehensionError(question.id, "asked twice")
        asked.add(question.id)
        chosen = answers.get(question.id)
        if chosen is not None and (
            isinstance(chosen, bool)
            or not isinstance(chosen, int)
            or not 0 <= chosen < len(question.choices)
        ):
            raise AnswerOutOfRange(
                question.id,
                f"answer {chosen!r} is not the index of a choice "
                f"(0 to {len(question.choices) - 1})",
            )
        marked.append(
            MarkedAnswer(
                question_id=question.id,
                chosen=chosen,
                right=chosen == question.answer,
                right_answer=question.answer,
                right_choice=question.right_choice,
                explanation=question.explanation,
            )
        )
    unanswered = tuple(m.question_id for m in marked if m.chosen is None)
    unknown = tuple(sorted(set(answers) - asked))
    return Result(
        passed=all(m.right for m in marked) and not unknown,
        answers=tuple(marked),
        unanswered=unanswered,
        unknown=unknown,
    )
