"""Symptom triage: what a patient wrote, in their own words, mapped to the rubric's level.

Deterministic and offline. The text is normalised and cut into clauses; each clause is read for
the rubric's concepts (knowledge/triage.toml), skipping what is negated, hypothetical or about
someone else, raising what is severe or persistent; the report's level is the highest concept's.
Every concept comes with the words that found it, so a nurse can see why.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache

from isoguard.core.knowledge.loading import KnowledgeError, entries, read_toml

TEXT_SPEAK = {
    r"\bcannae\b": "cant", r"\bdoon\b": "down", r"\banythin\b": "anything",
    r"\bnothin\b": "nothing", r"\bsomethin\b": "something", r"\bmornin\b": "morning",
    r"\bme (lips|skin|eyes|head|back|mouth|nose|face|hair|belly|tummy|stomach|throat|ears?)\b":
        r"my \1",
    r"\bu\b": "you", r"\bur\b": "your", r"\bim\b": "i am", r"\bive\b": "i have",
    r"\bidk\b": "i dont know", r"\bcuz\b": "because", r"\bcoz\b": "because", r"\btbh\b": "",
    r"\brn\b": "right now", r"\bpls\b": "please", r"\bsrsly\b": "seriously", r"\bw/\b": "with ",
}  # fmt: skip
SENTENCE_BREAKS = re.compile(r"[.;!?\n]+")
CLAUSE_BREAKS = re.compile(r",|\b(?:but|though|although|however|and now|because|so now)\b")
NEGATION = re.compile(
    r"\b(no|not|never|without|dont|didnt|havent|hasnt|hadnt|isnt|arent|wasnt|werent|nothing|"
    r"none|neither|nor|denies|free of|zero)\b(\s+\S+){0,3}\s*$"
)
HYPOTHETICAL = re.compile(
    r"\b(what if|is it normal (to|for)|is (it|this|that) a side effect|side effects?\b.{0,20}\?|"
    r"\bis\b.{0,30}\ba (common |normal |known )?side effect|can cause|may cause|"
    r"will i|will my|could i get|can it cause|does it cause|should i worry if|in case|"
    r"worried (it|that|i)|scared (it|that|i)|if i get\b(?! up)|if i have|if my|might i|"
    r"am i going to|"
    r"just wondering|planning ahead|read (that|about)|saw a .{0,20}post|heard (that|it)|"
    r"would .{0,30}\bmean\b|would i (need|have) to|before i start\b|is it true|"
    r"does it make (you|people)|makes (you|people)\b|"
    r"(scared|afraid|worried|terrified) (of|about) (losing|getting|it))"
)
# Someone else as the subject of the clause: their symptoms are not the patient's.
OTHERS = (
    r"(little |big |older |younger |best )?(brother|sister|friend|mum|mom|mother|dad|father|"
    r"boyfriend|girlfriend|bf|gf|partner|husband|wife|cousin|roommate|flatmate|mate|colleague|"
    r"classmate|grandma|grandad|aunt|uncle|sis|bro)"
)
THIRD_PARTY_NOUN = re.compile(
    rf"^((my|our) )?(\w+s )?{OTHERS}s?\b(?!,? (my|i|im|ive|me)\b)(?! (is )?(condom|rubber))"
    r"(?!\s+here\b)"
)
THIRD_PARTY = re.compile(
    rf"{THIRD_PARTY_NOUN.pattern}|"
    r"^(he|she|they) (has|have|had|gets|got|is|was|keeps|kept|says|said|feels|felt|started|does|"
    r"did)\b|^her period|^(her|his|their) (lips|skin|eyes|face|hair|head|back|mouth|nose|"
    r"stomach|tummy|mood)"
)
# "my gf says I look yellow": someone else's words about the patient.
REPORTED_ABOUT_ME = re.compile(
    r"\b(says|said|thinks|noticed|told me|reckons)\b.{0,15}\b(i|im|my|me)\b"
)
OWN = re.compile(r"\b(myself|me|i|my)\b")
# A question that also states a symptom as fact ("I had one last night, is that normal?").
FACT = re.compile(r"\b(i (had|have|got|get|am|was|keep)|ive|my \w+ (is|are|was|were|has|have))\b")
# The sentence after a question says the patient has what was asked about ("I had some").
FACT_ABOUT_IT = re.compile(
    r"\b(mine (is|has|was|are|have|went|looks?|keeps?)"
    r"(?! (fine|ok|okay|normal|good|great|alright))|(i|ive) (had|have|got|get|do|did|am "
    r"having|keep getting|been getting)\b.{0,12}\b(some|one|it|them|this|that|these|those|too|"
    r"also|loads|lots)\b|^(been|had (it|them|this)|got (it|them|this)|it (is|has) been|its been|"
    r"it started|started|since|for (a|about|over|\d+)|yes|yeah|it is the|its the|it was the|"
    r"happened|it happened|happens|it (went|got|was|is|has been|keeps))\b|\bit (went|got|has "
    r"been|happened|keeps)\b)"
)
DESCRIPTION = re.compile(r"((looks?|feels?|sounds?|seems?) )?(like|as if|kind of|kinda|sort of)\b")
PARENT_WRITING = re.compile(
    r"\b(my (son|daughter|kid|child|boy|girl|teen)|our (son|daughter|kid|child|boy|girl|teen)|"
    r"(this is|its|it is) \w+( is|s)? (mum|mom|mam|ma|mother|dad|father)|"
    r"(mum|mom|mam|dad|mother|father|parent) "
    r"(of \w+ )?here|"
    r"writing (for|on behalf of))\b|\w+( is|s) (mum|mom|mam|dad) here"
)
# Someone writing about the patient they live with ("my girlfriend is on accutane and..."): the
# person they name is the patient, not someone else.
CARER_WRITING = re.compile(
    r"\b(my|our) (girlfriend|boyfriend|partner|husband|wife|son|daughter|brother|sister)\b"
    r"(?=.{0,60}\b(is on|has been on|was on|"
    r"started (on )?(accutane|isotretinoin|roaccutane|it|the)|"
    r"since (starting|he started|she started|they started)))"
)
WRITER_ON_IT = re.compile(
    r"\b(my (dose|capsules?|tablets|pills|course)|i am on|im on|i take|i started)\b"
)
# A parent writing about their child: the clauses about the writer's own health.
WRITER_OWN = re.compile(
    r"\b(myself|my own|just me|me being)\b|^(i|i have|i am|im) (had|got|have got|been having|"
    r"been getting|am having)\b"
)
PERSISTENT = re.compile(
    r"(?<!not even )(?<!less than )(?<!under )(?<!nearly )(?<!almost )"
    r"(?<!started )\b((2|two|3|three|4|four|5|five|6|six|several|a few|few|over two|over 2) "
    r"weeks(?! in\b)|"
    r"fortnight|worse (every|each) (week|day)|more (frequent|often)|"
    r"(a|one|1|2|two|3|three|over a) months?|since (early |the start of )?last month|for ages|"
    r"months now|wont go away|not going away|keeps? getting worse|getting worse|worse and worse|"
    r"still there after|nothing (helps|works)|wont heal|not healing|not calming|still worse|"
    r"(isnt|not|hasnt) settl\w*|wont shift|wont budge|been like this since|not getting better|"
    r"not improving|for weeks|weeks now|"
    r"(drops|cream|balm|moisturi[sz]er|vaseline|nothing) (dont|doesnt|didnt|isnt|arent|wont) "
    r"(help|work|touch|do anything))\b"
)
# The effect has stopped: the two-week rule applies only while it is still there.
RESOLVED = re.compile(
    r"\b(healed|cleared( up)?|gone now|has gone|have gone|went away|settled( down)?|"
    r"better now|fine now|stopped now|all good now|back to normal)\b"
)
SEVERE = re.compile(
    r"\b(severe|severely|sevre|severly|worst|excruciating|unbearable|agony|agonising|agonizing|"
    r"doubled over|cant function|cannot function)\b"
)
OTHER_SYMPTOM = re.compile(
    r"\b(sore throat|throat is sore|hoarse|lost my voice|"
    r"pain|ache|aching|hurts?|sore|swollen|swelling|bumps?|lumps?|sores|tired|fatigue|"
    r"exhausted|knackered|shattered|zonked|run down|wiped( out)?|drained|red as a lobster|"
    r"sleeping (badly|poorly|terribly)|not sleeping|burning|numb|metallic taste|weird taste|"
    r"cramps?|"
    r"bruis\w*|cold sores?|cant (get to )?sleep|trouble sleeping|insomnia|lying awake|awake (till|"
    r"until|all night)|sunburn\w*|burn\w* (super |so |really |very )?(easily|fast|quick\w*)|"
    r"\w*nails?|sweat\w*|styes?|heav(y|ier) periods?|periods?\b.{0,20}\bheav\w*|"
    r"burnt to a crisp|blistering|fragile|slow to heal|ages to heal|palpitations?|heart (racing|"
    r"pounding|fluttering)|racing heart|weight (gain|loss)|thirsty|peeing a lot|ulcers?|"
    r"blisters?|boils?|infection|infected|oozing|pus|discharge|bleeding gums?|gums? bleed|"
    r"tooth ?ache|agony|throb\w*|lobster|flush\w*|goes (bright )?red|scratchy throat|"
    r"throat is scratchy|tired\w*)\b"
)
NOT_A_DENIAL = re.compile(
    r"^\w+\s+(\w+\s+)?(know|idea|clue|sure|understand|helps?|works?|joke|joking|kidding|lie|"
    r"lying)\b"
)
# A worry that states a fact: "I'm worried that my eyes are yellow".
STATED = re.compile(r"\bmy (\w+ ){1,2}(is|are|was|were|has|have|keeps?)\b")
# A negation inside the words that matched: "the skin isn't even dry".
NEGATED_INSIDE = re.compile(r"\b(isnt|arent|wasnt|werent|not|no longer|never)\b(\s+\S+){0,2}\s*$")
# Symptoms outside the rubric's lists that the sources say to act on at once (clinical.md 5.1
# intracranial hypertension: seizures, stroke symptoms; 5.3): `other_symptom` at its highest level,
# `call_today`, so that they reach the clinic's worklist.
RED_FLAG = re.compile(
    r"\b(seizures?|fits?\b(?! (in|into|well|fine|me))|convuls\w*|coughing up blood|"
    r"(vomit\w*|throwing up|sick) blood|stroke|face (is )?droop\w*|slurr\w* (speech|words)|"
    r"cant (move|feel) my (arm|leg|face)|took (\d+|all|a load of|loads of) (of )?(my )?"
    r"(pills|tablets|capsules))"
)
GENERIC_PAIN = re.compile(r"pain|ache|aching|hurts?|sore|agony|throb\w*")


@dataclass(frozen=True)
class Upgrade:
    to: str
    when: str
    """A pattern on the sentence that moves the finding to `to`."""
    only: str = ""
    """If set, the upgrade applies only when the finding's own words match this pattern."""
    unless: str = ""
    """If set, the upgrade does not apply when the clause matches this pattern."""


@dataclass(frozen=True)
class Concept:
    id: str
    level: str
    patterns: tuple[str, ...]
    source: str
    upgrade: tuple[Upgrade, ...] = ()
    sentence_patterns: tuple[str, ...] = ()
    """Matched on the whole sentence, for descriptions that run over commas."""
    any_mention: bool = False
    """Counts even in a question, a hypothetical or a joke (suicidal thoughts)."""


@dataclass(frozen=True)
class Level:
    id: str
    rank: int
    advice: str
    source: str


@dataclass(frozen=True)
class Knowledge:
    levels: tuple[Level, ...]
    concepts: tuple[Concept, ...]
    compiled: dict[str, tuple[re.Pattern[str], ...]] = field(default_factory=dict)
    sentence_compiled: dict[str, tuple[re.Pattern[str], ...]] = field(default_factory=dict)

    def rank(self, level: str) -> int:
        return next(lv.rank for lv in self.levels if lv.id == level)

    def concept(self, concept_id: str) -> Concept:
        return next(c for c in self.concepts if c.id == concept_id)


@cache
def load_triage() -> Knowledge:
    """Load and validate triage.toml; every pattern must compile."""
    where = "triage.toml"
    data = read_toml(where)
    if set(data) - {"level", "concept"}:
        raise KnowledgeError(f"{where}: unknown table {sorted(set(data) - {'level', 'concept'})}")
    knowledge = Knowledge(
        entries(data, "level", Level, where=where), entries(data, "concept", Concept, where=where)
    )
    levels = {lv.id for lv in knowledge.levels}
    ids = {c.id for c in knowledge.concepts}
    for concept in knowledge.concepts:
        if concept.level not in levels:
            raise KnowledgeError(f"{where}: {concept.id}: unknown level {concept.level!r}")
        for upgrade in concept.upgrade:
            if upgrade.to not in ids:
                raise KnowledgeError(f"{where}: {concept.id}: upgrade to unknown {upgrade.to!r}")
        try:
            knowledge.compiled[concept.id] = tuple(re.compile(p) for p in concept.patterns)
            knowledge.sentence_compiled[concept.id] = tuple(
                re.compile(p) for p in concept.sentence_patterns
            )
        except re.error as error:
            raise KnowledgeError(f"{where}: {concept.id}: bad pattern: {error}") from None
    return knowledge


@dataclass(frozen=True)
class ChecklistItem:
    """A symptom the patient may tick instead of writing it (symptom_checklist.toml)."""

    id: str
    label: str
    concept: str
    source: str


@cache
def load_checklist() -> tuple[ChecklistItem, ...]:
    """Load symptom_checklist.toml; every item must name a concept the triage knows."""
    where = "symptom_checklist.toml"
    data = read_toml(where)
    if set(data) - {"item"}:
        raise KnowledgeError(f"{where}: unknown table {sorted(set(data) - {'item'})}")
    items = entries(data, "item", ChecklistItem, where=where)
    known = {c.id for c in load_triage().concepts}
    for item in items:
        if item.concept not in known:
            raise KnowledgeError(f"{where}: {item.id}: unknown concept {item.concept!r}")
    if len({i.id for i in items}) != len(items):
        raise KnowledgeError(f"{where}: item ids must be unique")
    return items


class ChecklistError(ValueError):
    """A ticked symptom that is not on the checklist."""


@dataclass(frozen=True)
class ConceptFinding:
    id: str
    level: str
    evidence: str
    """The words that found it."""


@dataclass(frozen=True)
class TriageResult:
    level: str
    concepts: tuple[ConceptFinding, ...]
    advice: str

    def to_dict(self) -> dict[str, object]:
        return {
            "level": self.level,
            "concepts": sorted({c.id for c in self.concepts}),
            "evidence": {c.id: c.evidence for c in self.concepts},
            "advice": self.advice,
        }


def normalise(text: str) -> str:
    """Lower-case, drop apostrophes and emoji, expand text-speak; keep clause punctuation."""
    folded = text.lower().replace("\u2019", "'")
    # "skin's dry" -> "skin is dry"; a possessive before a person stays ("daughter's friend").
    folded = re.sub(rf"(?<=[a-z])'s\b(?! {OTHERS}\b)", " is", folded)
    folded = folded.replace("'", "")
    folded = re.sub(r"([a-z])\1{2,}", r"\1\1", folded)  # "nosebleeed" -> "nosebleed"
    folded = re.sub(r"\bsoo+\b", "so", folded)
    folded = re.sub(r"[^a-z0-9.,;:!?\n/ ]", " ", folded)
    for pattern, replacement in TEXT_SPEAK.items():
        folded = re.sub(pattern, replacement, folded)
    return re.sub(r"[ \t]+", " ", folded)


def sentences(text: str) -> list[str]:
    return [s.strip() for s in SENTENCE_BREAKS.split(text) if s.strip()]


def clauses(sentence: str) -> list[str]:
    return [c.strip(" ,-") for c in CLAUSE_BREAKS.split(sentence) if c and c.strip(" ,-")]


def triage(text: str, ticked: Iterable[str] = ()) -> TriageResult:
    """Return the level, the concepts with their evidence, and the advice for `text`.

    `ticked` are ids of symptom_checklist.toml items; each counts as its concept at the concept's
    level, as if the patient had written it. An unknown id raises ChecklistError.
    """
    knowledge = load_triage()
    found = _text_concepts(knowledge, text)
    items = {item.id: item for item in load_checklist()}
    for item_id in ticked:
        item = items.get(item_id)
        if item is None:
            raise ChecklistError(
                f"symptoms: unknown checklist item {item_id!r}; allowed: {', '.join(items)}"
            )
        concept = knowledge.concept(item.concept)
        _keep(found, ConceptFinding(concept.id, concept.level, f"ticked: {item.label}"), knowledge)
    _resolve_overlaps(found)
    concepts = tuple(sorted(found.values(), key=lambda c: c.id))
    level = max((c.level for c in concepts), key=knowledge.rank, default="none")
    advice = next(lv.advice for lv in knowledge.levels if lv.id == level)
    return TriageResult(level, concepts, advice)


def _text_concepts(knowledge: Knowledge, text: str) -> dict[str, ConceptFinding]:
    normal = normalise(text)
    carer = CARER_WRITING.search(normal)
    patient_named = carer.group(2) if carer and not WRITER_ON_IT.search(normal) else ""
    parent_writing = bool(PARENT_WRITING.search(normal) or patient_named)
    found: dict[str, ConceptFinding] = {}
    # A question about a symptom, kept in case the next sentence says the patient has it ("is
    # chest pain a side effect? I had some last night"): the two are then read as one statement.
    asked = ""
    for sentence in sentences(normal):
        if asked and FACT_ABOUT_IT.search(sentence):
            _read_sentence(knowledge, f"{asked} {sentence}", parent_writing, found, as_fact=True)
        asked = sentence if _read_sentence(knowledge, sentence, parent_writing, found) else ""
    return found


def _read_sentence(
    knowledge: Knowledge,
    sentence: str,
    parent_writing: bool,
    found: dict[str, ConceptFinding],
    *,
    as_fact: bool = False,
) -> bool:
    """Add the sentence's concepts to `found`; return whether it asked about one it skipped."""
    asked = False
    hypothetical_sentence = (
        not as_fact and HYPOTHETICAL.search(sentence) and not FACT.search(sentence)
    )
    persists = PERSISTENT.search(sentence) and not _resolved(sentence)
    sentence_found = False
    for clause in clauses(sentence):
        hypothetical = hypothetical_sentence or (
            not as_fact and HYPOTHETICAL.search(clause) and not STATED.search(clause)
        )
        about_someone_else = _someone_else(clause, parent_writing)
        hits = _clause_concepts(knowledge, clause, sentence)
        for concept_id, evidence in hits.items():
            sentence_found = True
            concept = knowledge.concept(concept_id)
            level = concept.level
            if level == "self_care" and persists:
                level = "tell_prescriber"
            if concept.any_mention:
                # Any mention of wanting to die or of self-harm counts, in a question or a
                # joke too (RUBRIC.md), unless it is plainly someone else's.
                if about_someone_else and not OWN.search(evidence):
                    continue
            elif about_someone_else:
                continue
            elif hypothetical:
                asked = True
                continue
            _keep(found, ConceptFinding(concept_id, level, evidence), knowledge)
        # A symptom the rubric does not name counts, unless the clause only describes the
        # one before it ("hurts to swallow, like a scratchy pain").
        describes_previous = DESCRIPTION.match(clause)
        if not (hypothetical or about_someone_else or describes_previous):
            # The parts of the clause ("... and ...") that found no concept.
            rest = " , ".join(
                part
                for part in re.split(r"\b(?:and|also|plus)\b", clause)
                if not any(_share_a_word(part, e) for e in hits.values())
            )
            match = OTHER_SYMPTOM.search(rest)
            # A bare "hurts" after a clause that found a concept describes that concept
            # ("lower back is killing me, hurts to bend over").
            earlier_pain = sentence_found or any(
                PAIN_WORDS.search(f.evidence) or GENERIC_PAIN.search(f.evidence)
                for f in found.values()
            )
            if match and earlier_pain and GENERIC_PAIN.fullmatch(match.group(0)):
                match = None
            red_flag = RED_FLAG.search(rest)
            if red_flag and not _negated(rest, red_flag.start()):
                match = red_flag
            if match and not _negated(rest, match.start()):
                severe = SEVERE.search(sentence)
                called_severe = severe is not None and not _negated(sentence, severe.start())
                level = "call_today" if called_severe or match is red_flag else "tell_prescriber"
                _keep(found, ConceptFinding("other_symptom", level, match.group(0)), knowledge)
    return asked


def _share_a_word(a: str, b: str) -> bool:
    """Whether two phrases share a word of four letters or more."""
    return bool({w for w in a.split() if len(w) > 3} & {w for w in b.split() if len(w) > 3})


def _resolved(sentence: str) -> bool:
    """Whether the sentence says the effect has stopped ("healed", but not "hasn't settled")."""
    return any(
        not re.search(r"\b(not|hasnt|havent|isnt|arent|never|not yet)\s*$", sentence[: m.start()])
        for m in RESOLVED.finditer(sentence)
    )


def _someone_else(clause: str, parent_writing: bool) -> bool:
    """Whether the clause is about someone other than the patient.

    A parent writing about their child reports the child's symptoms, but not their own ("I've
    had headaches myself"); someone else's words about the patient ("my gf says I look yellow")
    are the patient's.
    """
    if parent_writing:
        other = THIRD_PARTY_NOUN.search(clause)
        if other and re.match(
            r"(my|our) (girlfriend|boyfriend|partner|husband|wife|brother|"
            r"sister)s?\b",
            clause,
        ):
            # The partner or sibling the writer said is on the drug is the patient.
            other = None
        return bool(WRITER_OWN.search(clause) or other)
    return bool(THIRD_PARTY.search(clause)) and not REPORTED_ABOUT_ME.search(clause)


def _clause_concepts(knowledge: Knowledge, clause: str, sentence: str) -> dict[str, str]:
    hits: dict[str, str] = {}
    for concept in knowledge.concepts:
        for pattern in knowledge.compiled[concept.id]:
            match = pattern.search(clause)
            if match is None or _negated(clause, match.start()):
                continue
            inside = NEGATED_INSIDE.search(match.group(0))
            if inside and inside.group(1) not in pattern.pattern:
                continue
            # Evidence runs to the end of the last word matched ("lips crack" -> "lips cracked").
            end = re.match(r"\w*", clause[match.end() :])
            evidence = (match.group(0) + (end.group(0) if end else "")).strip()
            target = concept.id
            for upgrade in concept.upgrade:
                if (
                    re.search(upgrade.when, sentence)
                    and (not upgrade.only or re.search(upgrade.only, evidence))
                    and not (upgrade.unless and re.search(upgrade.unless, clause))
                ):
                    target = upgrade.to
            hits.setdefault(target, evidence)
            break
        if concept.id not in hits:
            for pattern in knowledge.sentence_compiled[concept.id]:
                found_in = pattern.search(sentence)
                at = sentence.find(clause)
                # Only the clauses the match runs over take it.
                if found_in is None or not (
                    at < found_in.end() and found_in.start() < at + len(clause)
                ):
                    continue
                if not (
                    _negated(sentence, found_in.start()) or NEGATED_INSIDE.search(found_in.group(0))
                ):
                    hits.setdefault(concept.id, found_in.group(0))
                    break
    return hits


def _negated(clause: str, start: int) -> bool:
    """Return whether a negation cue governs the words starting at `start` (NegEx-style)."""
    before = clause[:start]
    if before.rstrip().endswith(("cant", "can not", "cannot")):
        return False
    cue = NEGATION.search(before)
    # "and" ends the cue's reach ("over nothing and punched a door"); "or" and "nor" do not. A
    # cue that opens a figure of speech denies nothing ("I don't know why my chest hurts", "no
    # joke, I want to die", "nothing helps my lips").
    return (
        cue is not None
        and not re.search(r"\band\b", cue.group(0))
        and not NOT_A_DENIAL.match(cue.group(0))
    )


def _keep(found: dict[str, ConceptFinding], finding: ConceptFinding, knowledge: Knowledge) -> None:
    current = found.get(finding.id)
    if current is None or knowledge.rank(finding.level) > knowledge.rank(current.level):
        found[finding.id] = finding


# Skin that is not the palms or the soles.
ELSEWHERE = r"face|cheek|chin|forehead|scalp|nose|elbow|neck|arms|legs|body|shin|lips|back|ears"
PAIN_WORDS = re.compile(r"hurt|ache|aching|pain|cramp")
BOWEL_WORDS = re.compile(r"runs|diarr|diarea|diarhea|squits|loose|stool|poo|motions|bowels")
_NOTHING = ConceptFinding("", "none", "")

# When the more serious concept is present, the milder one it replaces does not count.
SUPERSEDES = {
    "severe_vomiting": ("upset_stomach",),
    "severe_headache": ("headache_mild",),
    "severe_dizziness": ("mild_dizziness",),
    "allergic_swelling": ("minor_lip_eyelid_swelling", "rash_itching"),
    "breathing_difficulty": ("rash_itching",),
    "severe_abdominal_pain": ("upset_stomach",),
}


def _resolve_overlaps(found: dict[str, ConceptFinding]) -> None:
    for serious, milder in SUPERSEDES.items():
        if serious in found:
            for concept_id in milder:
                if concept_id == "upset_stomach" and serious == "severe_abdominal_pain":
                    # Nausea beside severe pain counts on its own; a milder word for the same
                    # pain does not.
                    if PAIN_WORDS.search(found.get(concept_id, _NOTHING).evidence):
                        found.pop(concept_id)
                    continue
                found.pop(concept_id, None)
    # Peeling palms or soles are their own concept, not dry skin (RUBRIC.md dry_skin).
    # Palpitations in a panic attack are the panic attack.
    if re.search(r"panic|anxi", found.get("mood_change", _NOTHING).evidence) and re.search(
        r"heart", found.get("other_symptom", _NOTHING).evidence
    ):
        found.pop("other_symptom")
    # A sore throat with a fever is the infection (RUBRIC.md infection_signs).
    if "infection_signs" in found and re.search(
        r"throat", found.get("other_symptom", _NOTHING).evidence
    ):
        found.pop("other_symptom")
    # Loose stools beside severe diarrhoea are the same thing; thirst beside a dry mouth too.
    if "severe_diarrhea" in found and BOWEL_WORDS.search(
        found.get("upset_stomach", _NOTHING).evidence
    ):
        found.pop("upset_stomach")
    if "dry_mouth" in found and found.get("other_symptom", _NOTHING).evidence == "thirsty":
        found.pop("other_symptom")
    both = "peeling_palms_soles" in found and "dry_skin" in found
    if both and not re.search(ELSEWHERE, found["dry_skin"].evidence):
        found.pop("dry_skin")
    itch_only = "rash_itching" in found and not re.search(
        r"rash|hives|welts", found["rash_itching"].evidence
    )
    if itch_only and ("dry_skin" in found or "dry_eyes" in found):
        found.pop("rash_itching")
