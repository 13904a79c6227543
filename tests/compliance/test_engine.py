"""The classification engine against the fact sheet (reference/ai-act.md): worked examples in §10,
every Art. 5 point, every Annex III point, the derogation and the profiling override, Art. 50."""

import datetime

import pytest

from compliance.engine import SYSTEMIC_RISK_FLOP, classify, load
from compliance.obligations import SystemFacts, obligations_for

Q = load("v1")
ART5 = [q for q in Q.questions if q.effect == "prohibited"]
ANNEX_III = [(q.key, o.key) for q in Q.questions if q.effect == "annex_iii" for o in q.options if o.key != "none"]
DEROGATIONS = ["derog_a", "derog_b", "derog_c", "derog_d"]
DUTIES = [q for q in Q.questions if q.effect == "transparency"]


def baseline(**overrides):
    """A plain in-scope system: every question answered with its harmless answer."""
    answers = {}
    for q in Q.questions:
        if q.type == "yesno":
            answers[q.key] = "no"
        elif q.type == "choice":
            answers[q.key] = q.options[0].key
        else:
            answers[q.key] = "0"
    answers.update(ai_system="yes", eu_nexus="yes")
    answers.update(overrides)
    return answers


def articles(outcome):
    return [article for _conclusion, article in outcome.reasoning]


def dates(outcome):
    return {d["key"]: d["date"] for d in outcome.applicable_dates}


# --- The four worked examples (§10) ---------------------------------------------------------------


def test_medical_scan_model_is_high_risk_via_annex_i_mdr_from_august_2028():
    out = classify(baseline(annex_i_product="mdr", annex_i_role="product", annex_i_third_party="yes"))
    assert out.complete
    assert out.risk_class == "high_risk_annex_i"
    assert out.annex_i_section == "A"
    assert "Art. 6(1), Annex I" in articles(out)
    assert dates(out)["annex_i"] == "2028-08-02"
    # Annex III and the derogation are moot once Annex I makes it high-risk.
    assert "annex_iii_5" in out.skipped
    assert "derog_a" in out.skipped
    keys = {
        o.key
        for o in obligations_for(out, SystemFacts(role="provider", uses_personal_data=True, uses_health_data=True))
    }
    assert {"art9_risk", "art10_data", "art11_techdoc", "art43_conformity", "art72_pmm", "art73_incidents"} <= keys
    assert {"gdpr_art9", "gdpr_dpia", "gdpr_federated"} <= keys


def test_retail_chatbot_has_transparency_duties_from_august_2026():
    out = classify(baseline(t_interacts="yes", t_synthetic="yes", t_synthetic_pre_existing="yes"))
    assert out.risk_class == "transparency"
    assert out.duty_codes() == ["50(1)", "50(2)"]
    assert {"Art. 50(1)", "Art. 50(2)"} <= set(articles(out))
    assert dates(out) == {"prohibitions": "2025-02-02", "general": "2026-08-02", "marking_pre_existing": "2026-12-02"}
    obligations = {o.key: o for o in obligations_for(out, SystemFacts(role="provider", uses_personal_data=True))}
    assert {"art4_literacy", "art50_1_disclose", "art50_2_marking", "gdpr_lawful_basis"} <= set(obligations)
    assert obligations["art50_2_marking"].due_on == datetime.date(2026, 12, 2)
    assert "art9_risk" not in obligations


def test_retail_chatbot_repurposed_for_credit_scoring_becomes_high_risk():
    out = classify(baseline(t_interacts="yes", annex_iii_5="5b", profiling="yes"))
    assert out.risk_class == "high_risk_annex_iii"
    assert out.annex_iii_point == "5b"
    assert out.duty_codes() == ["50(1)"]


def test_smart_grid_optimiser_used_solely_for_efficiency_is_not_high_risk():
    out = classify(
        baseline(annex_iii_2="2-electricity", annex_iii_2_efficiency_only="yes", annex_iii_2_failure_endangers="no")
    )
    assert out.risk_class == "minimal"
    assert "Art. 6(1a), 6(1b)" in articles(out)
    assert "profiling" in out.skipped  # no Annex III point applies: the derogation questions are moot


def test_smart_grid_optimiser_whose_failure_endangers_safety_is_high_risk_point_2_without_fria():
    out = classify(
        baseline(annex_iii_2="2-electricity", annex_iii_2_efficiency_only="yes", annex_iii_2_failure_endangers="yes")
    )
    assert out.risk_class == "high_risk_annex_iii"
    assert out.annex_iii_point == "2-electricity"
    assert dates(out)["annex_iii"] == "2027-12-02"
    keys = {o.key for o in obligations_for(out, SystemFacts(role="both", organisation_kind="utility"))}
    assert "art27_fria" not in keys  # Art. 27 excludes point 2
    assert {"art9_risk", "art43_conformity", "art49_register", "art26_5_monitor"} <= keys


def test_crop_water_need_predictor_is_minimal_with_literacy_already_applying():
    out = classify(baseline())
    assert out.risk_class == "minimal"
    assert dates(out) == {"prohibitions": "2025-02-02"}
    keys = [o.key for o in obligations_for(out, SystemFacts(role="provider"))]
    assert keys == ["art4_literacy", "art5_screening", "art95_codes"]


def test_crop_predictor_as_safety_function_of_agricultural_vehicle_is_annex_i_section_b():
    out = classify(
        baseline(
            annex_i_product="agri_vehicles", annex_i_role="component", efficiency_only="no", annex_i_third_party="yes"
        )
    )
    assert out.risk_class == "high_risk_annex_i"
    assert out.annex_i_section == "B"
    keys = {o.key for o in obligations_for(out, SystemFacts(role="provider"))}
    assert "annex_i_b_sector" in keys
    assert "art9_risk" not in keys  # the sector law integrates the requirements (Art. 2(2))


# --- Art. 5 ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("question", ART5, ids=lambda q: q.key)
def test_every_art5_question_makes_the_system_prohibited(question):
    out = classify(baseline(**{question.key: "yes"}))
    assert out.complete
    assert out.risk_class == "prohibited"
    assert question.article in articles(out)
    assert "annex_i_product" in out.skipped  # the rest is moot
    expected = "2026-12-02" if question.applies_from else "2025-02-02"
    assert max(d["date"] for d in out.applicable_dates) == expected
    assert [o.key for o in obligations_for(out, SystemFacts(role="provider"))] == ["art4_literacy", "art5_stop"]


@pytest.mark.parametrize("question", [q for q in ART5 if q.exception], ids=lambda q: q.key)
def test_art5_exception_lifts_the_prohibition(question):
    out = classify(baseline(**{question.key: "yes", question.exception: "yes"}))
    assert out.risk_class == "minimal"


def test_art5_yes_with_exception_unanswered_is_not_final():
    out = classify(baseline(art5_f="yes", art5_f_exception=""))
    assert out.unanswered == ["art5_f_exception"]
    assert not out.complete


# --- Annex III, derogation, profiling ----------------------------------------------------------------


def _point_answers(area, point):
    extra = {area: point}
    if area == "annex_iii_2":
        extra["annex_iii_2_efficiency_only"] = "no"
    return extra


@pytest.mark.parametrize(("area", "point"), ANNEX_III)
def test_every_annex_iii_point_is_high_risk(area, point):
    out = classify(baseline(**_point_answers(area, point)))
    assert out.risk_class == "high_risk_annex_iii"
    assert out.annex_iii_point == point
    assert dates(out)["annex_iii"] == "2027-12-02"


@pytest.mark.parametrize(("area", "point"), ANNEX_III)
@pytest.mark.parametrize("derogation", DEROGATIONS)
def test_every_annex_iii_point_with_a_derogation_is_not_high_risk(area, point, derogation):
    out = classify(baseline(**_point_answers(area, point), **{derogation: "yes"}))
    assert out.risk_class == "minimal"
    assert out.derogation == derogation[-1]
    assert f"Art. 6(3)({derogation[-1]})" in articles(out)
    keys = {o.key for o in obligations_for(out, SystemFacts(role="provider"))}
    assert {"art6_4_document", "art49_2_register"} <= keys


@pytest.mark.parametrize("derogation", DEROGATIONS)
def test_profiling_override_beats_a_derogation(derogation):
    out = classify(baseline(annex_iii_4="4a", profiling="yes", **{derogation: "yes"}))
    assert out.risk_class == "high_risk_annex_iii"
    assert not out.derogation
    assert derogation in out.skipped
    assert "Art. 6(3), last subparagraph" in articles(out)


def test_annex_iii_questions_wait_for_annex_i_and_follow_ups_wait_for_their_answer():
    out = classify({"ai_system": "yes", "eu_nexus": "yes"})
    assert "annex_i_product" in out.unanswered
    assert "annex_iii_1" in out.skipped
    assert "art5_d_exception" in out.skipped


# --- Art. 50 on any class ---------------------------------------------------------------------


CLASSES = {
    "minimal": {},
    "high_risk_annex_iii": {"annex_iii_3": "3b"},
    "high_risk_annex_i": {"annex_i_product": "mdr", "annex_i_role": "product", "annex_i_third_party": "yes"},
    "derogation": {"annex_iii_4": "4a", "derog_d": "yes"},
}


@pytest.mark.parametrize("question", DUTIES, ids=lambda q: q.key)
@pytest.mark.parametrize("setting", list(CLASSES))
def test_art50_situations_add_transparency_duties_on_any_class(question, setting):
    out = classify(baseline(**CLASSES[setting], **{question.key: "yes"}))
    assert out.duty_codes() == [question.duty]
    expected = {"minimal": "transparency", "derogation": "transparency"}.get(setting, setting)
    assert out.risk_class == expected
    assert dates(out)["general"] == "2026-08-02"
    role = question.duty_holder
    keys = {o.article for o in obligations_for(out, SystemFacts(role=role))}
    assert question.article in keys


def test_editorial_control_lifts_the_public_interest_text_duty():
    out = classify(baseline(t_public_text="yes", t_public_text_editorial="yes"))
    assert out.duty_codes() == []
    assert out.risk_class == "minimal"


# --- Scope ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "answer"),
    [
        ("ai_system", "no"),
        ("eu_nexus", "no"),
        ("excl_military", "yes"),
        ("excl_research", "yes"),
        ("excl_personal", "yes"),
    ],
)
def test_scope_answers_put_the_system_out_of_scope_and_skip_the_rest(key, answer):
    out = classify(baseline(**{key: answer}, art5_a="yes"))
    assert out.risk_class == "out_of_scope"
    assert "art5_a" in out.skipped
    assert out.applicable_dates == []
    assert obligations_for(out, SystemFacts(role="provider")) == []


def test_open_source_is_out_of_scope_unless_high_risk_prohibited_or_art50():
    assert classify(baseline(open_source="yes")).risk_class == "out_of_scope"
    assert classify(baseline(open_source="yes", t_interacts="yes")).risk_class == "transparency"
    assert classify(baseline(open_source="yes", annex_iii_1="1a", profiling="yes")).risk_class == "high_risk_annex_iii"
    assert classify(baseline(open_source="yes", art5_c="yes")).risk_class == "prohibited"


# --- GPAI ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flop", "systemic"), [(SYSTEMIC_RISK_FLOP, False), (SYSTEMIC_RISK_FLOP * 1.01, True), (3e24, False)]
)
def test_systemic_risk_is_presumed_above_1e25_flop(flop, systemic):
    out = classify(baseline(gpai_model="yes", gpai_compute=str(flop)))
    assert out.gpai_model
    assert out.gpai_systemic_risk is systemic
    assert dates(out)["gpai"] == "2025-08-02"
    keys = {o.key for o in obligations_for(out, SystemFacts(role="provider"))}
    assert ("art55_evaluation" in keys) is systemic
    assert "art53_1c_copyright" in keys


def test_open_weights_model_is_exempt_from_technical_documentation_unless_systemic():
    out = classify(baseline(gpai_model="yes", gpai_compute="1e23", gpai_open_weights="yes", gpai_pre_existing="yes"))
    keys = {o.key for o in obligations_for(out, SystemFacts(role="provider"))}
    assert "art53_1a_techdoc" not in keys
    assert "art53_1d_summary" in keys
    assert dates(out)["gpai_pre_existing"] == "2027-08-02"
    designated = classify(
        baseline(gpai_model="yes", gpai_compute="1e23", gpai_open_weights="yes", gpai_designated="yes")
    )
    assert "art53_1a_techdoc" in {o.key for o in obligations_for(designated, SystemFacts(role="provider"))}


def test_gpai_questions_are_skipped_when_not_a_model_provider():
    out = classify(baseline())
    assert "gpai_compute" in out.skipped
    assert not out.gpai_model


# --- Answers ---------------------------------------------------------------------------------------------


def test_bad_answers_name_the_question():
    from compliance.engine import InvalidAnswer

    with pytest.raises(InvalidAnswer, match="yes or no") as exc:
        classify({"ai_system": "maybe"})
    assert exc.value.key == "ai_system"
    with pytest.raises(InvalidAnswer, match="Pick one of"):
        classify({"annex_iii_1": "9z"})
    with pytest.raises(InvalidAnswer, match="number"):
        classify({"gpai_compute": "lots"})


def test_personal_data_adds_the_gdpr_part_even_outside_the_ai_act():
    out = classify(baseline(excl_research="yes"))
    keys = {o.section for o in obligations_for(out, SystemFacts(role="provider", uses_personal_data=True))}
    assert keys == {"gdpr"}
