"""The classification engine: answers in, AI Act class out. Pure functions, no database.

The questions, their order, the conditions under which they are asked, the articles and the
plain-language conclusions are data (``compliance/questionnaires/<version>.toml``); this module
only knows what each kind of question (its ``effect``) means, in the decision order of the
fact sheet: scope -> Art. 5 -> Art. 6(1)/Annex I -> Art. 6(2)/Annex III -> Art. 6(3) -> Art. 50
-> GPAI (Chapter V). Art. 50 duties apply on top of any class.

Not legal advice.
"""

import datetime
import functools
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

QUESTIONNAIRE_DIR = Path(__file__).resolve().parent / "questionnaires"
CURRENT_VERSION = "v1"
SYSTEMIC_RISK_FLOP = 1e25  # Art. 51(2): presumed high-impact capabilities *above* this

YES, NO = "yes", "no"
NONE = "none"


@dataclass(frozen=True)
class Option:
    key: str
    label: str
    section: str = ""


@dataclass(frozen=True)
class Question:
    key: str
    section: str
    type: str  # yesno | choice | number
    article: str
    text: str
    effect: str
    help: str = ""
    ask_if: tuple[str, ...] = ()
    options: tuple[Option, ...] = ()
    exception: str = ""
    duty: str = ""
    duty_holder: str = ""
    applies_from: str = ""
    conclusion_yes: str = ""
    conclusion_no: str = ""

    def option(self, key):
        return next((o for o in self.options if o.key == key), None)

    def display(self, answer) -> str:
        """The answer in words, for the result page and the dossier."""
        if answer is None:
            return "—"
        if self.type == "choice":
            option = self.option(answer)
            return option.label if option else str(answer)
        if self.type == "number":
            return f"{float(answer):.3g}"
        return "Yes" if answer == YES else "No"


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    intro: str = ""


@dataclass(frozen=True)
class Questionnaire:
    version: str
    title: str
    sections: tuple[Section, ...]
    questions: tuple[Question, ...]
    dates: dict
    obligations: tuple[dict, ...]

    @functools.cached_property
    def by_key(self) -> dict[str, Question]:
        return {q.key: q for q in self.questions}

    def section(self, key) -> Section:
        return next(s for s in self.sections if s.key == key)


def available_versions() -> list[str]:
    return sorted(p.stem for p in QUESTIONNAIRE_DIR.glob("v*.toml"))


@functools.cache
def load(version: str = CURRENT_VERSION) -> Questionnaire:
    path = QUESTIONNAIRE_DIR / f"{version}.toml"
    if not path.is_file() or "/" in version:
        raise LookupError(f"No questionnaire version {version!r}.")
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    if data.get("version") != version:
        raise ValueError(f"{path.name} says it is version {data.get('version')!r}.")
    questions = []
    for raw in data["questions"]:
        raw = dict(raw)
        raw["ask_if"] = tuple(raw.get("ask_if", ()))
        raw["options"] = tuple(Option(**o) for o in raw.get("options", ()))
        questions.append(Question(**raw))
    keys = [q.key for q in questions]
    if len(keys) != len(set(keys)):
        raise ValueError(f"{path.name}: question keys are not unique.")
    return Questionnaire(
        version=version,
        title=data.get("title", ""),
        sections=tuple(Section(**s) for s in data["sections"]),
        questions=tuple(questions),
        dates=data.get("dates", {}),
        obligations=tuple(data.get("obligations", ())),
    )


class InvalidAnswer(ValueError):
    def __init__(self, key, message):
        self.key = key
        super().__init__(message)


def normalise(question: Question, value):
    """The stored form of an answer: "yes"/"no", an option key, or a float. ``None`` if empty."""
    if value is None or value == "":
        return None
    if question.type == "yesno":
        if value is True or str(value).strip().lower() in ("yes", "true", "1", "y"):
            return YES
        if value is False or str(value).strip().lower() in ("no", "false", "0", "n"):
            return NO
        raise InvalidAnswer(question.key, "Answer yes or no.")
    if question.type == "choice":
        if question.option(str(value)) is None:
            choices = ", ".join(o.key for o in question.options)
            raise InvalidAnswer(question.key, f"Pick one of: {choices}.")
        return str(value)
    if question.type == "number":
        try:
            number = float(str(value).replace(",", "").replace(" ", ""))
        except ValueError:
            raise InvalidAnswer(question.key, "Enter a number, e.g. 3e24.") from None
        if not math.isfinite(number) or number < 0:
            raise InvalidAnswer(question.key, "Enter a positive number, e.g. 3e24.")
        return number
    raise InvalidAnswer(question.key, f"Unknown question type {question.type}.")


def clean_answers(answers: dict, questionnaire: Questionnaire) -> dict:
    """Normalise every known answer; unknown keys are dropped. Raises ``InvalidAnswer``."""
    cleaned = {}
    for key, value in (answers or {}).items():
        question = questionnaire.by_key.get(key)
        if question is None:
            continue
        normalised = normalise(question, value)
        if normalised is not None:
            cleaned[key] = normalised
    return cleaned


@dataclass
class Outcome:
    version: str
    risk_class: str = ""
    annex_i_section: str = ""
    annex_i_law: str = ""
    annex_iii_point: str = ""
    annex_iii_points: list = field(default_factory=list)
    derogation: str = ""
    profiling: bool = False
    open_source: bool = False
    transparency_duties: list = field(default_factory=list)
    synthetic_pre_existing: bool = False
    gpai_model: bool = False
    gpai_systemic_risk: bool = False
    gpai_open_weights: bool = False
    gpai_pre_existing: bool = False
    new_prohibition: bool = False
    reasoning: list = field(default_factory=list)  # [(conclusion, article)]
    applicable_dates: list = field(default_factory=list)  # [{date, what, article}]
    asked: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    unanswered: list = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.unanswered

    @property
    def is_high_risk(self) -> bool:
        return self.risk_class in ("high_risk_annex_i", "high_risk_annex_iii")

    def duty_codes(self) -> list[str]:
        return [d["duty"] for d in self.transparency_duties]


def _holds(clause: str, known: dict) -> bool:
    if "!=" in clause:
        key, value = (part.strip() for part in clause.split("!=", 1))
        return key in known and known[key] != value
    key, value = (part.strip() for part in clause.split("=", 1))
    return known.get(key) == value


def _derive(given: dict, q: Questionnaire) -> dict:
    """Facts the conditions refer to, from the answers given so far ("yes"/"no"; absent = not known yet)."""
    facts = {}
    product = given.get("annex_i_product")
    role = given.get("annex_i_role")
    if product is not None and product != NONE and role == "component":
        facts["safety_component_question"] = YES
    safety = None
    if product is not None and product != NONE:
        if role == "product":
            safety = YES
        elif role == "component":
            eff, endangers = given.get("efficiency_only"), given.get("failure_endangers")
            if eff == NO or endangers == YES:
                safety = YES
            elif eff == YES and endangers == NO:
                safety = NO
    if safety is not None:
        facts["annex_i_safety"] = safety
    if product == NONE or safety == NO:
        facts["annex_i_high_risk"] = NO
    elif safety == YES and given.get("annex_i_third_party") in (YES, NO):
        facts["annex_i_high_risk"] = given["annex_i_third_party"]

    hits, pending = _annex_iii_hits(given, q)
    if hits:
        facts["annex_iii_hit"] = YES
    elif not pending and all(f"annex_iii_{n}" in given for n in range(1, 9)):
        facts["annex_iii_hit"] = NO
    return facts


def _annex_iii_hits(given: dict, q: Questionnaire) -> tuple[list[str], bool]:
    """The Annex III points that apply, and whether point 2's safety-component test is still open."""
    hits, pending = [], False
    for question in q.questions:
        if question.effect != "annex_iii":
            continue
        answer = given.get(question.key)
        if answer is None or answer == NONE:
            continue
        if question.key == "annex_iii_2":
            eff = given.get("annex_iii_2_efficiency_only")
            endangers = given.get("annex_iii_2_failure_endangers")
            if eff == NO or endangers == YES:
                hits.append(answer)
            elif eff is None or (eff == YES and endangers is None):
                pending = True
            continue
        hits.append(answer)
    return hits, pending


def _point_label(point: str) -> str:
    """'2-electricity' -> '2', '5b' -> '5(b)'."""
    if "-" in point:
        return point.split("-", 1)[0]
    return f"{point[:-1]}({point[-1]})" if point[-1].isalpha() else point


def point_label(point: str) -> str:
    return _point_label(point) if point else ""


def classify(answers: dict, version: str = CURRENT_VERSION) -> Outcome:
    """Walk the questionnaire in order with ``answers`` (question key -> answer) and classify.

    Answers to questions that are not asked (their conditions do not hold, or the outcome is
    already final) are ignored and their keys listed in ``skipped``. Questions asked but not
    answered are listed in ``unanswered``; the outcome is provisional until there are none.
    """
    q = load(version)
    answers = clean_answers(answers, q)
    out = Outcome(version=version)
    given: dict = {}
    stop = ""  # "out_of_scope" | "prohibited"
    prohibited: list[tuple[str, str]] = []
    pending_exception: dict[str, Question] = {}

    for question in q.questions:
        known = given | _derive(given, q)
        if stop or not all(_holds(c, known) for c in question.ask_if):
            out.skipped.append(question.key)
            continue
        out.asked.append(question.key)
        answer = answers.get(question.key)
        if answer is None:
            out.unanswered.append(question.key)
            continue
        given[question.key] = answer
        effect = question.effect

        if effect == "scope_required" and answer == NO:
            out.reasoning.append((question.conclusion_no, question.article))
            stop = "out_of_scope"
        elif effect == "scope_exclusion" and answer == YES:
            out.reasoning.append((question.conclusion_yes, question.article))
            stop = "out_of_scope"
        elif effect == "open_source":
            out.open_source = answer == YES
        elif effect == "prohibited" and answer == YES:
            if question.exception:
                pending_exception[question.exception] = question
            else:
                prohibited.append((question.conclusion_yes, question.article))
                out.new_prohibition |= bool(question.applies_from)
                stop = "prohibited"
        elif effect == "prohibited_exception":
            main = pending_exception.pop(question.key, None)
            if main is None:
                pass
            elif answer == YES:
                out.reasoning.append((question.conclusion_yes, question.article))
            else:
                prohibited.append((main.conclusion_yes, main.article))
                stop = "prohibited"
        elif effect == "transparency" and answer == YES and not question.exception:
            out.transparency_duties.append(_duty(question))
        elif effect == "transparency" and answer == YES:
            pending_exception[question.exception] = question
        elif effect == "transparency_exception":
            main = pending_exception.pop(question.key, None)
            if main is not None and answer == NO:
                out.transparency_duties.append(_duty(main))
            elif main is not None:
                out.reasoning.append((question.conclusion_yes, question.article))
        elif effect == "synthetic_pre_existing":
            out.synthetic_pre_existing = answer == YES
        elif effect == "profiling":
            out.profiling = answer == YES
        elif effect == "gpai_model":
            out.gpai_model = answer == YES
        elif effect == "gpai_compute" and answer > SYSTEMIC_RISK_FLOP:
            out.gpai_systemic_risk = True
            out.reasoning.append(
                (
                    f"Trained with {answer:.3g} FLOP, above 10^25: presumed to have high-impact "
                    "capabilities, i.e. systemic risk.",
                    "Art. 51(2)",
                )
            )
        elif effect == "gpai_designated" and answer == YES:
            out.gpai_systemic_risk = True
            out.reasoning.append((question.conclusion_yes, question.article))
        elif effect == "gpai_open_weights":
            out.gpai_open_weights = answer == YES
        elif effect == "gpai_pre_existing":
            out.gpai_pre_existing = answer == YES

    if stop == "out_of_scope":
        out.risk_class = "out_of_scope"
        out.reasoning.append(("The AI Act does not apply: no checklist of AI Act obligations.", "Art. 2"))
        return _finish(out, q)
    if stop == "prohibited":
        out.reasoning.extend(prohibited)
        out.risk_class = "prohibited"
        out.transparency_duties = []
        out.reasoning.append(
            ("A prohibited practice may not be placed on the market, put into service or used.", "Art. 5, Art. 99(3)")
        )
        return _finish(out, q)

    facts = _derive(given, q)
    _explain_annex_i(out, given, facts, q)
    hits, _pending = _annex_iii_hits(given, q)
    if (
        given.get("annex_iii_2") not in (None, NONE, *hits)
        and given.get("annex_iii_2_efficiency_only") == YES
        and given.get("annex_iii_2_failure_endangers") == NO
    ):
        out.reasoning.append(
            (
                "Used solely for performance optimisation or efficiency, and its failure would not endanger "
                "health and safety: not a safety component, so Annex III point 2 does not apply.",
                "Art. 6(1a), 6(1b)",
            )
        )

    if facts.get("annex_i_high_risk") == YES:
        out.risk_class = "high_risk_annex_i"
    elif hits:
        out.annex_iii_points = hits
        out.annex_iii_point = hits[0]
        area = q.by_key[f"annex_iii_{_point_label(hits[0])[0]}"]
        out.reasoning.append(
            (
                f"Intended use falls under Annex III point {_point_label(hits[0])}: {area.display(hits[0])}.",
                area.article,
            )
        )
        derogations = [
            k for k in ("derog_a", "derog_b", "derog_c", "derog_d") if given.get(k) == YES and not out.profiling
        ]
        if out.profiling:
            out.reasoning.append((q.by_key["profiling"].conclusion_yes, q.by_key["profiling"].article))
        if derogations:
            first = q.by_key[derogations[0]]
            out.derogation = derogations[0][-1]
            out.reasoning.append((first.conclusion_yes + " Not high-risk.", first.article))
            out.reasoning.append(
                ("Document this assessment before placing on the market and register the system.", "Art. 6(4), 49(2)")
            )
            out.annex_iii_point = ""
        else:
            out.risk_class = "high_risk_annex_iii"
            out.reasoning.append(("High-risk AI system.", "Art. 6(2)"))

    for duty in out.transparency_duties:
        out.reasoning.append((duty["conclusion"], duty["article"]))

    if not out.risk_class:
        if out.transparency_duties:
            out.risk_class = "transparency"
        elif out.open_source:
            out.risk_class = "out_of_scope"
            out.reasoning.append(
                (
                    "Free and open-source, and neither prohibited, high-risk nor in an Art. 50 situation: "
                    "excluded from the Act.",
                    "Art. 2(12)",
                )
            )
            return _finish(out, q)
        else:
            out.risk_class = "minimal"
            out.reasoning.append(
                (
                    "No prohibited practice, no high-risk route and no transparency situation: minimal risk. "
                    "AI literacy still applies; voluntary codes are encouraged.",
                    "Art. 4, Art. 95",
                )
            )
    if out.open_source and out.risk_class != "minimal":
        out.reasoning.append(("The open-source exclusion does not apply to this class.", "Art. 2(12)"))
    if out.gpai_model:
        out.reasoning.append((q.by_key["gpai_model"].conclusion_yes, q.by_key["gpai_model"].article))
        if out.gpai_open_weights and not out.gpai_systemic_risk:
            out.reasoning.append((q.by_key["gpai_open_weights"].conclusion_yes, q.by_key["gpai_open_weights"].article))
    return _finish(out, q)


def _duty(question: Question) -> dict:
    return {
        "duty": question.duty,
        "holder": question.duty_holder,
        "article": question.article,
        "conclusion": question.conclusion_yes,
    }


def _explain_annex_i(out: Outcome, given: dict, facts: dict, q: Questionnaire) -> None:
    product = given.get("annex_i_product")
    if product in (None, NONE):
        return
    option = q.by_key["annex_i_product"].option(product)
    out.annex_i_law = option.label
    if facts.get("annex_i_safety") == NO:
        out.reasoning.append(
            (
                f"Part of a product under {option.label}, but used solely for non-safety aspects and its failure "
                "would not endanger health and safety: not a safety component.",
                "Art. 6(1a), 6(1b)",
            )
        )
        return
    if facts.get("annex_i_high_risk") == NO:
        out.reasoning.append(
            (
                f"Covered by {option.label}, but no third-party conformity assessment for safety reasons is required.",
                "Art. 6(1)(b), 6(1c)",
            )
        )
        return
    if facts.get("annex_i_high_risk") == YES:
        out.annex_i_section = option.section
        what = "is itself the product" if given.get("annex_i_role") == "product" else "is a safety component"
        out.reasoning.append(
            (
                f"It {what} covered by {option.label} (Annex I Section {option.section}) and needs a third-party "
                "conformity assessment: high-risk.",
                "Art. 6(1), Annex I",
            )
        )
        if option.section == "B":
            out.reasoning.append(
                (
                    "Annex I Section B: only Art. 6(1), 60a and 102-112 of the AI Act apply directly; "
                    "the sector law integrates the requirements.",
                    "Art. 2(2)",
                )
            )


def _date(q: Questionnaire, key: str) -> dict:
    entry = q.dates[key]
    return {"key": key, "date": entry["date"].isoformat(), "what": entry["what"], "article": entry["article"]}


def _finish(out: Outcome, q: Questionnaire) -> Outcome:
    out.applicable_dates = [_date(q, k) for k in applicable_date_keys(out)]
    out.applicable_dates.sort(key=lambda d: d["date"])
    return out


def applicable_date_keys(out: Outcome) -> list[str]:
    if out.risk_class in ("", "out_of_scope"):
        return []
    keys = ["prohibitions"]
    if out.risk_class == "prohibited":
        return keys + (["new_prohibitions"] if out.new_prohibition else [])
    if out.transparency_duties:
        keys.append("general")
        if out.synthetic_pre_existing and "50(2)" in out.duty_codes():
            keys.append("marking_pre_existing")
    if out.risk_class == "high_risk_annex_iii" or out.derogation:
        keys.append("annex_iii")
    if out.risk_class == "high_risk_annex_i":
        keys.append("annex_i")
    if out.gpai_model:
        keys.append("gpai_pre_existing" if out.gpai_pre_existing else "gpai")
    return keys


def date_of(q: Questionnaire, key: str) -> datetime.date:
    return q.dates[key]["date"]


def progress(out: Outcome) -> tuple[int, int]:
    """(answered, to answer) among the questions asked so far."""
    asked = len(out.asked)
    return asked - len(out.unanswered), asked
