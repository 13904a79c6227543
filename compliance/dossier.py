"""The compliance dossier: one system's description, classification with reasoning, checklist with
evidence status, ethics-board sign-offs, and the latest fairness and drift results.

The same data feeds the printable page, the Markdown download and the JSON download.
"""

from django.apps import apps
from django.template import TemplateDoesNotExist
from django.template.loader import select_template
from django.utils import timezone

from . import engine, selectors
from .models import BoardReview

NOTICE = (
    "This dossier supports, and does not replace, legal advice. The classification follows the portal's "
    "questionnaire (a plain-language reading of Regulation (EU) 2024/1689 as amended by Regulation (EU) 2026/1744)."
)


def template_exists(name) -> bool:
    """Whether another app's optional template is there (an include of a missing one breaks the page)."""
    try:
        select_template([name])
    except TemplateDoesNotExist:
        return False
    return True


def _assurance(system) -> dict | None:
    if not apps.is_installed("assurance"):
        return None
    try:
        from compliance.assurance.selectors import dossier_summary
    except ImportError:  # the assurance app is not there yet
        return None
    return dossier_summary(system)


def context(system) -> dict:
    latest = selectors.latest_assessment(system)
    items = list(selectors.checklist(system).prefetch_related("evidence"))
    reviews = list(
        BoardReview.objects.filter(system=system)
        .select_related("requested_by", "decided_by", "assessment")
        .order_by("requested_at", "id")
    )
    return {
        "system": system,
        "latest": latest,
        "point": engine.point_label(latest.annex_iii_point) if latest else "",
        "items": items,
        "progress": selectors.progress(system),
        "reviews": reviews,
        "signoff": selectors.valid_signoff(system),
        "projects": list(system.projects.all()),
        "applications": list(system.applications.select_related("call")),
        "generated_at": timezone.now(),
        "notice": NOTICE,
        "assurance_section": "assurance/_dossier_section.html"
        if template_exists("assurance/_dossier_section.html")
        else "",
    }


def as_dict(system) -> dict:
    c = context(system)
    latest = c["latest"]
    data = {
        "generated_at": c["generated_at"].isoformat(),
        "notice": NOTICE,
        "system": {
            "id": system.pk,
            "name": system.name,
            "hub": system.hub.name,
            "organisation": system.organisation.name,
            "owner": system.owner.display_name,
            "intended_purpose": system.intended_purpose,
            "role": system.get_role_display(),
            "sector": system.get_sector_display(),
            "input_modality": system.get_input_modality_display(),
            "output_modality": system.get_output_modality_display(),
            "uses_personal_data": system.uses_personal_data,
            "uses_health_data": system.uses_health_data,
            "uses_biometric_data": system.uses_biometric_data,
            "is_gpai_model": system.is_gpai_model,
            "builds_on_gpai": system.builds_on_gpai,
            "gpai_base_model": system.gpai_base_model,
            "training_compute_flop": system.training_compute_flop,
            "deployment_status": system.get_deployment_status_display(),
            "projects": [p.title for p in c["projects"]],
            "applications": [a.title for a in c["applications"]],
        },
        "classification": None,
        "checklist": [
            {
                "section": i.get_section_display(),
                "article": i.article,
                "title": i.title,
                "evidence_types": i.evidence_types,
                "due_on": i.due_on,
                "status": i.get_status_display(),
                "justification": i.justification,
                "owner": i.owner.display_name if i.owner else None,
                "evidence": [
                    {"label": e.label, "kind": e.kind, "type": e.evidence_type, "sha256": e.sha256, "url": e.url}
                    for e in i.evidence.all()
                ],
            }
            for i in c["items"]
        ],
        "progress": {"closed": c["progress"].closed, "total": c["progress"].total, "percent": c["progress"].percent},
        "board_reviews": [
            {
                "requested_at": r.requested_at,
                "requested_by": r.requested_by.display_name,
                "status": r.get_status_display(),
                "decided_by": r.decided_by.display_name if r.decided_by else None,
                "decided_at": r.decided_at,
                "rationale": r.rationale,
                "conditions": r.conditions,
                "classification_of": r.assessment.submitted_at,
            }
            for r in c["reviews"]
        ],
        "monitoring": _monitoring(system),
    }
    if latest is not None:
        data["classification"] = {
            "risk_class": latest.risk_class,
            "label": latest.get_risk_class_display(),
            "annex_iii_point": c["point"],
            "annex_i_section": latest.annex_i_section,
            "derogation": latest.derogation,
            "transparency_duties": [d["duty"] for d in latest.transparency_duties],
            "gpai_model": latest.gpai_model,
            "gpai_systemic_risk": latest.gpai_systemic_risk,
            "questionnaire_version": latest.questionnaire_version,
            "submitted_at": latest.submitted_at,
            "reasoning": [{"conclusion": r[0], "article": r[1]} for r in latest.reasoning],
            "applicable_dates": latest.applicable_dates,
        }
    return data


def _monitoring(system) -> dict | None:
    summary = _assurance(system)
    if summary is None:
        return None
    fairness, anchor, drift = summary.get("fairness"), summary.get("anchor"), summary.get("drift")
    return {
        "fairness": {
            "check": str(fairness),
            "verdict": getattr(fairness, "verdict", ""),
            "computed_at": getattr(fairness, "computed_at", None),
            "runs": summary.get("fairness_runs"),
            "failed_runs": summary.get("fairness_failed_runs"),
        }
        if fairness
        else None,
        "trust_anchor": {
            "reference": str(anchor.reference),
            "signed_at": anchor.signed_at,
            "data_sha256": anchor.data_sha256,
            "profile_sha256": anchor.profile_sha256,
        }
        if anchor
        else None,
        "drift": {
            "batch": str(drift),
            "verdict": getattr(drift, "verdict", ""),
            "computed_at": getattr(drift, "computed_at", None),
            "batches": summary.get("drift_batches"),
            "alerts": summary.get("drift_alerts"),
        }
        if drift
        else None,
    }


def _md(text) -> str:
    return str(text or "").replace("|", "\\|").replace("\n", " ")


def markdown(system) -> str:
    d = as_dict(system)
    s = d["system"]
    lines = [
        f"# Compliance dossier: {s['name']}",
        "",
        f"Generated {d['generated_at'][:16].replace('T', ' ')} UTC from the AI Gigafactory Network portal.",
        "",
        f"> {NOTICE}",
        "",
        "## System",
        "",
        f"- Hub: {s['hub']}",
        f"- Organisation: {s['organisation']}",
        f"- Owner: {s['owner']}",
        f"- Role: {s['role']}",
        f"- Sector: {s['sector']}",
        f"- Input / output: {s['input_modality']} / {s['output_modality']}",
        f"- Personal data: {'yes' if s['uses_personal_data'] else 'no'}; health data: "
        f"{'yes' if s['uses_health_data'] else 'no'}; biometric data: {'yes' if s['uses_biometric_data'] else 'no'}",
        f"- General-purpose model: {'provides one' if s['is_gpai_model'] else 'no'}"
        + (f"; builds on {s['gpai_base_model'] or 'one'}" if s["builds_on_gpai"] else ""),
        f"- Training compute: {s['training_compute_flop']:.3g} FLOP"
        if s["training_compute_flop"]
        else "- Training compute: not given",
        f"- Deployment: {s['deployment_status']}",
        f"- Projects: {', '.join(s['projects']) or 'none'}; applications: {', '.join(s['applications']) or 'none'}",
        "",
        "### Intended purpose",
        "",
        s["intended_purpose"],
        "",
        "## Classification",
        "",
    ]
    c = d["classification"]
    if c is None:
        lines += ["Not classified yet.", ""]
    else:
        lines += [
            f"**{c['label']}**" + (f", Annex III point {c['annex_iii_point']}" if c["annex_iii_point"] else ""),
            "",
            f"Questionnaire {c['questionnaire_version']}, submitted {str(c['submitted_at'])[:16]}.",
            f"General-purpose model: {'yes' if c['gpai_model'] else 'no'}; systemic risk: "
            f"{'yes' if c['gpai_systemic_risk'] else 'no'}.",
            "",
            "### Reasoning",
            "",
            *[f"{n}. {r['conclusion']} ({r['article']})" for n, r in enumerate(c["reasoning"], 1)],
            "",
            "### Dates that apply",
            "",
            *[f"- {x['date']}: {x['what']} ({x['article']})" for x in c["applicable_dates"]],
            "",
        ]
    p = d["progress"]
    lines += [
        "## Checklist",
        "",
        f"{p['closed']} of {p['total']} items closed ({p['percent']} %).",
        "",
        "| Article | Obligation | Evidence expected | Due | Status | Evidence attached |",
        "|---|---|---|---|---|---|",
    ]
    for i in d["checklist"]:
        attached = "; ".join(f"{e['label']} ({e['type']})" for e in i["evidence"]) or "—"
        status = i["status"] + (f": {i['justification']}" if i["justification"] else "")
        lines.append(
            f"| {_md(i['article'])} | {_md(i['title'])} | {', '.join(i['evidence_types'])} | {i['due_on'] or '—'} "
            f"| {_md(status)} | {_md(attached)} |"
        )
    lines += ["", "## Ethics board", ""]
    if not d["board_reviews"]:
        lines.append("No review requested yet.")
    for r in d["board_reviews"]:
        decided = f" — decided by {r['decided_by']} on {str(r['decided_at'])[:10]}" if r["decided_by"] else ""
        lines.append(f"- {str(r['requested_at'])[:10]} requested by {r['requested_by']}: **{r['status']}**{decided}")
        if r["rationale"]:
            lines.append(f"  - Rationale: {_md(r['rationale'])}")
        if r["conditions"]:
            lines.append(f"  - Conditions: {_md(r['conditions'])}")
    m = d["monitoring"]
    lines += ["", "## Fairness and drift monitoring", ""]
    if m is None:
        lines.append("Monitoring is not available in this portal.")
    else:
        f, t, dr = m["fairness"], m["trust_anchor"], m["drift"]
        lines.append(
            f"- Latest fairness check: {f['check']} — {f['verdict']} ({f['runs']} runs, {f['failed_runs']} failing)"
            if f
            else "- Latest fairness check: none"
        )
        lines.append(
            f"- Trust anchor: {t['reference']}, signed {str(t['signed_at'])[:10]}, data SHA-256 {t['data_sha256']}"
            if t
            else "- Trust anchor: none"
        )
        lines.append(
            f"- Latest drift batch: {dr['batch']} — {dr['verdict']} ({dr['alerts']} of {dr['batches']} drifted)"
            if dr
            else "- Latest drift batch: none"
        )
    lines.append("")
    return "\n".join(lines)
