"""Pilots: pilots of a hub (its members read them; staff and the lead change them), the public
showcase and case studies, publishing and withdrawing (the hub's staff), adapting at another
hub (that hub's staff), network statistics.

Hub A's pilots are led by ``member_a`` (``objects_pilots``), so the "owner" is the lead.
"""

from pilots.models import CaseStudy, Pilot, PilotStatus

from .matrix import OWNER_AND_STAFF, PUBLISHED, PUBLISHED_LIST, STAFF_OF_HUB, api, listing, page

# Members of the pilot's hub (any role), its lead, its staff, superusers.
HUB_READERS = {**OWNER_AND_STAFF, "reviewer_a": "yn"}
HUB_READERS_API = {**HUB_READERS, "personal": "yn", "partner_a": "yn"}
# Staff of the *other* hub (adapting a pilot at one's own hub): hub B's case study is not public,
# so only hub B's staff adapt hub A's.
OTHER_HUB_STAFF = {"default": "nn", "staff_b": "yn", "superuser": "yy"}
# The lead (member_a), staff of the pilot's hub, superusers; the lead's personal key.
EDITORS_API = {**OWNER_AND_STAFF, "personal": "yn"}
# Who may start a pilot at a hub: its staff and the PIs of its compute projects.
STARTERS = {"default": "nn", "member_a": "yn", "member_b": "ny", "staff_a": "yn", "staff_b": "ny", "superuser": "yy"}


def pk(name):
    return lambda w, s: {"pk": getattr(s, name).pk}


def slug(name):
    return lambda w, s: {"slug": getattr(s, name).slug}


def other(w, s):
    return w.b if s is w.a else w.a


def status_is(name, status):
    return lambda w, s: Pilot.objects.get(pk=getattr(s, name).pk).status == status


def transition(name, action, target, obj):
    return page(
        "POST",
        name,
        **OWNER_AND_STAFF,
        variant=action,
        args=lambda w, s: {"pk": getattr(s, obj).pk, "action": action},
        effect=status_is(obj, target),
    )


NO_FORMSET_ROWS = {
    f"{p}-{f}": 0 for p in ("partners", "milestones", "metrics") for f in ("TOTAL_FORMS", "INITIAL_FORMS")
}


def pilot_form(w, s):
    return {
        "hub": s.hub.pk,
        "title": "Matrix pilot",
        "summary": "Made by the matrix.",
        "sector": "agriculture",
        "lead": s.member.pk,
        **NO_FORMSET_ROWS,
    }


def titled(title):
    return lambda w, s: Pilot.objects.filter(hub=s.hub, title=title).exists()


def adapted(w, s):
    return Pilot.objects.filter(adapted_from=s.case_study.pilot).exists()


ROWS = [
    # --- Pilots of a hub --------------------------------------------------------------------------
    page("GET", "pilots:pilot_list", **listing(HUB_READERS), marker=lambda w, s: s.pilot.title),
    page("GET", "pilots:pilot_create", "y", anon="n", note="people who may not start one are sent back with why"),
    page(
        "POST",
        "pilots:pilot_create",
        **STARTERS,
        data=pilot_form,
        effect=titled("Matrix pilot"),
        note="a pilot is started by the hub's staff or the PI of one of its compute projects",
    ),
    page("GET", "pilots:pilot_detail", **HUB_READERS, args=pk("pilot")),
    page("GET", "pilots:pilot_edit", **OWNER_AND_STAFF, args=pk("pilot")),
    page(
        "POST",
        "pilots:pilot_edit",
        **OWNER_AND_STAFF,
        args=pk("pilot"),
        data=lambda w, s: {**pilot_form(w, s), "title": "Renamed pilot"},
        effect=titled("Renamed pilot"),
    ),
    page("GET", "pilots:pilot_stop", **OWNER_AND_STAFF, args=pk("pilot")),
    page(
        "POST",
        "pilots:pilot_stop",
        **OWNER_AND_STAFF,
        args=pk("pilot"),
        data={"reason": "The partner left."},
        effect=status_is("pilot", PilotStatus.STOPPED),
    ),
    transition("pilots:pilot_transition", "start", PilotStatus.ACTIVE, "pilot"),
    transition("pilots:pilot_transition", "complete", PilotStatus.COMPLETED, "active_pilot"),
    # --- Showcase, case studies, statistics (public) ------------------------------------------------
    page("GET", "pilots:showcase", **PUBLISHED_LIST, marker=lambda w, s: s.case_study.headline),
    page("GET", "pilots:showcase", "hh", variant="withdrawn", marker=lambda w, s: s.withdrawn_case_study.headline),
    page("GET", "pilots:case_study", **PUBLISHED, args=slug("case_study")),
    page("GET", "pilots:case_study", "nn", variant="withdrawn", args=slug("withdrawn_case_study")),
    page("GET", "pilots:statistics", "y"),
    page("GET", "pilots:statistics_csv", "y"),
    # --- The hub's voice: publishing and withdrawing (staff) ---------------------------------------
    page("GET", "pilots:pilot_publish", **STAFF_OF_HUB, args=pk("active_pilot")),
    page(
        "POST",
        "pilots:pilot_publish",
        **STAFF_OF_HUB,
        args=pk("active_pilot"),
        data={"headline": "It works", "story": "What changed."},
        effect=lambda w, s: CaseStudy.objects.filter(pilot=s.active_pilot).exists(),
    ),
    page("GET", "pilots:case_study_withdraw", **STAFF_OF_HUB, args=slug("case_study")),
    page(
        "POST",
        "pilots:case_study_withdraw",
        **STAFF_OF_HUB,
        args=slug("case_study"),
        data={"reason": "Outdated."},
        effect=lambda w, s: CaseStudy.objects.get(pk=s.case_study.pk).withdrawn_at is not None,
    ),
    page("GET", "pilots:case_study_adapt", **OTHER_HUB_STAFF, args=slug("case_study")),
    page(
        "POST",
        "pilots:case_study_adapt",
        **OTHER_HUB_STAFF,
        args=slug("case_study"),
        data=lambda w, s: {"hub": other(w, s).hub.pk, "title": "", "note": "Matrix"},
        effect=adapted,
    ),
    # --- API --------------------------------------------------------------------------------------
    api(
        "GET",
        "api-pilot-list",
        **listing(HUB_READERS_API),
        marker=lambda w, s: s.pilot.title,
        note="a partner key reads its hub's pilots",
    ),
    api(
        "POST",
        "api-pilot-list",
        **STARTERS,
        personal="yn",
        data=lambda w, s: {"hub": s.hub.slug, "title": "Matrix pilot", "summary": "Matrix.", "sector": "energy"},
        effect=titled("Matrix pilot"),
    ),
    api("GET", "api-pilot-detail", **HUB_READERS_API, args=pk("pilot")),
    api(
        "PATCH",
        "api-pilot-detail",
        **EDITORS_API,
        args=pk("pilot"),
        data={"title": "Renamed pilot"},
        effect=titled("Renamed pilot"),
    ),
    api("POST", "api-pilot-start", **EDITORS_API, args=pk("pilot"), effect=status_is("pilot", PilotStatus.ACTIVE)),
    api(
        "POST",
        "api-pilot-complete",
        **EDITORS_API,
        args=pk("active_pilot"),
        effect=status_is("active_pilot", PilotStatus.COMPLETED),
    ),
    api(
        "POST",
        "api-pilot-stop",
        **EDITORS_API,
        args=pk("pilot"),
        data={"reason": "The partner left."},
        effect=status_is("pilot", PilotStatus.STOPPED),
    ),
    api(
        "POST",
        "api-pilot-publish",
        **STAFF_OF_HUB,
        args=pk("active_pilot"),
        data={"headline": "It works", "story": "What changed."},
        effect=lambda w, s: CaseStudy.objects.filter(pilot=s.active_pilot).exists(),
    ),
    api("GET", "api-case-study-list", **PUBLISHED_LIST, marker=lambda w, s: s.case_study.slug),
    api("GET", "api-case-study-list", "hh", variant="withdrawn", marker=lambda w, s: s.withdrawn_case_study.slug),
    api("GET", "api-case-study-detail", **PUBLISHED, args=slug("case_study")),
    api("GET", "api-case-study-detail", "nn", variant="withdrawn", args=slug("withdrawn_case_study")),
    api(
        "POST",
        "api-case-study-adapt",
        **OTHER_HUB_STAFF,
        args=slug("case_study"),
        data=lambda w, s: {"hub": other(w, s).hub.slug, "note": "Matrix"},
        effect=adapted,
    ),
    api("GET", "api-network-statistics", "y"),
]
