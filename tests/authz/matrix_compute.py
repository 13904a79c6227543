"""Compute: calls, resources, projects, applications, reviews, the staff queue, allocations,
the ledger statement and usage (pages and API).

Who is who on each hub's objects (``objects.compute_objects``): ``member_a`` is the PI of hub
A's project (``personal`` is their key), ``reviewer_a`` reviews hub A's peer-review application,
``partner_a`` is the HPC centre whose resource hub A's calls offer. Applications belong to their
project's team and to the staff of the call's hub; a reviewer reads only what they review.
"""

from compute.models import Application, AppStatus, Project, ProjectMember, Review, ReviewStatus, UsageRecord

from .matrix import OWNER_AND_STAFF, OWNER_ONLY, PUBLISHED, PUBLISHED_LIST, STAFF_OF_HUB, api, page

# The project's team (PI member_a / member_b) and its personal key.
TEAM_API = {**OWNER_ONLY, "personal": "yn"}
# The team, staff of the project's hub and superusers; through the API also the personal key.
TEAM_AND_STAFF_API = {**OWNER_AND_STAFF, "personal": "yn"}
# An API list of people's things: sessions and personal keys only.
PEOPLE_LIST = {"default": "hh", "anon": "nn", "partner_a": "nn"}
# Staff of the hub as a page list (others are refused: the queue is a staff page).
STAFF_LIST = {"default": "nn", "staff_a": "yh", "staff_b": "hy", "superuser": "yy"}


def pk(name):
    return lambda w, s: {"pk": getattr(s, name).pk}


def call_slug(name):
    return lambda w, s: {"slug": getattr(s, name).slug}


def status_of(name, *statuses):
    return lambda w, s: Application.objects.get(pk=getattr(s, name).pk).status in statuses


def review_status(*statuses):
    return lambda w, s: Review.objects.get(pk=s.review.pk).status in statuses


def on_team(person):
    return lambda w, s: ProjectMember.objects.filter(project=s.project, user=getattr(s, person)).exists()


def draft_fields(w, s, title="Renamed by the matrix"):
    return {
        "title": title,
        "abstract": "An abstract.",
        "justification": "Ten epochs.",
        "duration_days": 90,
        "data_sensitivity": "none",
        "civilian_use": "on",
        "row_key": "r1",
        "row_resource": s.resource.pk,
        "row_hours": 100,
    }


def title_is(name, title):
    return lambda w, s: Application.objects.get(pk=getattr(s, name).pk).title == title


def new_application(w, s):
    return Application.objects.filter(project=s.project, call=s.fast_call).count() > 1


def review_form(w, s):
    return {
        "score_excellence": 4,
        "score_impact": 4,
        "score_feasibility": 4,
        "recommendation": "approve",
        "comment_for_applicant": "Solid.",
        "no_conflict_declared": "on",
    }


def usage_records(w, s):
    return {
        "records": [
            {
                "resource": s.resource.pk,
                "allocation": s.allocation.pk,
                "external_id": "matrix-job",
                "user": "alice",
                "gpu_hours": "1.5",
                "start": "2026-03-02T08:00:00Z",
                "end": "2026-03-02T09:30:00Z",
            }
        ]
    }


ROWS = [
    # --- The public catalogue ------------------------------------------------------------------
    page("GET", "compute:call_list", **PUBLISHED_LIST, marker=lambda w, s: s.call.title),
    page(
        "GET",
        "compute:call_list",
        "hh",
        query="status=all",
        variant="unpublished call",
        marker=lambda w, s: s.draft_call.title,
        note="unpublished calls are previewed on their own page only",
    ),
    page("GET", "compute:call_detail", **PUBLISHED, args=call_slug("call")),
    page("GET", "compute:call_detail", **STAFF_OF_HUB, args=call_slug("draft_call"), variant="unpublished call"),
    api("GET", "api-call-list", **PUBLISHED_LIST, marker=lambda w, s: s.call.slug),
    api("GET", "api-call-list", "hh", variant="unpublished call", marker=lambda w, s: s.draft_call.slug),
    api("GET", "api-call-detail", **PUBLISHED, args=call_slug("call")),
    api("GET", "api-call-detail", "nn", args=call_slug("draft_call"), variant="unpublished call"),
    api("GET", "api-resource-list", **PUBLISHED_LIST, marker=lambda w, s: s.resource.name),
    api("GET", "api-resource-detail", **PUBLISHED, args=pk("resource")),
    # --- Applying ------------------------------------------------------------------------------
    page("GET", "compute:application_create", **PUBLISHED, anon="nn", args=call_slug("fast_call")),
    page(
        "POST",
        "compute:application_create",
        **OWNER_ONLY,
        args=call_slug("fast_call"),
        data=lambda w, s: {"action": "choose", "project": s.project.pk},
        effect=new_application,
        note="only a project of one's own can apply",
    ),
    # --- Projects ------------------------------------------------------------------------------
    page(
        "GET",
        "compute:project_list",
        "hh",
        anon="nn",
        member_a="yh",
        member_b="hy",
        marker=lambda w, s: s.project.title,
        note="the page lists the user's own teams",
    ),
    page("GET", "compute:project_create", "y", anon="n"),
    page(
        "POST",
        "compute:project_create",
        "nn",
        member_a="yn",
        member_b="ny",
        reviewer_a="yn",
        staff_a="yn",
        staff_b="ny",
        data=lambda w, s: {"hub": s.hub.pk, "title": "Matrix project", "summary": "Made by the matrix."},
        effect=lambda w, s: Project.objects.filter(hub=s.hub, title="Matrix project").exists(),
        note="a project only at a hub where one is an active member",
    ),
    page("GET", "compute:project_detail", **OWNER_AND_STAFF, args=pk("project")),
    page(
        "POST",
        "compute:project_member_add",
        **OWNER_AND_STAFF,
        args=pk("project"),
        data=lambda w, s: {"email": s.teammate.email},
        effect=on_team("teammate"),
    ),
    page(
        "POST",
        "compute:project_member_remove",
        **OWNER_AND_STAFF,
        args=lambda w, s: {"pk": s.project.pk, "user_pk": s.colleague.pk},
        effect=lambda w, s: not on_team("colleague")(w, s),
    ),
    page("GET", "compute:project_usage_csv", **OWNER_AND_STAFF, args=pk("project")),
    api(
        "GET",
        "api-project-list",
        **PEOPLE_LIST,
        member_a="yh",
        member_b="hy",
        personal="yh",
        staff_a="yh",
        staff_b="hy",
        superuser="yy",
        marker=lambda w, s: s.project.title,
    ),
    api(
        "POST",
        "api-project-list",
        "nn",
        member_a="yn",
        member_b="ny",
        reviewer_a="yn",
        staff_a="yn",
        staff_b="ny",
        personal="yn",
        superuser="yy",
        data=lambda w, s: {"hub": s.hub.slug, "title": "Matrix project"},
        effect=lambda w, s: Project.objects.filter(hub=s.hub, title="Matrix project").exists(),
    ),
    api("GET", "api-project-detail", **TEAM_AND_STAFF_API, args=pk("project")),
    api(
        "POST",
        "api-project-member-add",
        **TEAM_AND_STAFF_API,
        args=pk("project"),
        data=lambda w, s: {"email": s.teammate.email},
        effect=on_team("teammate"),
    ),
    api(
        "DELETE",
        "api-project-member-remove",
        **TEAM_AND_STAFF_API,
        args=lambda w, s: {"pk": s.project.pk, "user_id": s.colleague.pk},
        effect=lambda w, s: not on_team("colleague")(w, s),
    ),
    # --- Applications: the team's pages ---------------------------------------------------------
    page(
        "GET",
        "compute:application_list",
        "hh",
        anon="nn",
        member_a="yh",
        member_b="hy",
        marker=lambda w, s: s.application.title,
        note="the page lists the applications of the user's teams",
    ),
    page("GET", "compute:application_detail", **OWNER_AND_STAFF, reviewer_a="yn", args=pk("application")),
    page(
        "GET",
        "compute:application_edit",
        "nn",
        member_a="yn",
        member_b="ny",
        staff_a="hn",
        staff_b="nh",
        superuser="hh",
        args=pk("draft"),
        marker=lambda w, s: 'name="abstract"',
        note="staff see the application but not its form (sent to the application's page)",
    ),
    page(
        "POST",
        "compute:application_edit",
        **OWNER_ONLY,
        args=pk("draft"),
        data=draft_fields,
        effect=title_is("draft", "Renamed by the matrix"),
    ),
    page(
        "POST",
        "compute:application_autosave",
        **OWNER_ONLY,
        args=pk("draft"),
        data=draft_fields,
        effect=title_is("draft", "Renamed by the matrix"),
    ),
    page(
        "POST",
        "compute:application_estimate",
        **OWNER_AND_STAFF,
        args=pk("draft"),
        data=lambda w, s: {"row_key": "r1", "row_resource": s.resource.pk, "row_hours": 10},
    ),
    page("GET", "compute:application_row_new", **OWNER_ONLY, args=pk("draft")),
    page(
        "POST",
        "compute:application_submit",
        **OWNER_ONLY,
        args=pk("draft"),
        effect=lambda w, s: not status_of("draft", AppStatus.DRAFT)(w, s),
    ),
    page(
        "POST",
        "compute:application_withdraw",
        **OWNER_ONLY,
        args=pk("application"),
        effect=status_of("application", AppStatus.WITHDRAWN),
    ),
    # --- Applications: API ---------------------------------------------------------------------
    api(
        "GET",
        "api-application-list",
        **PEOPLE_LIST,
        member_a="yh",
        member_b="hy",
        personal="yh",
        reviewer_a="yh",
        staff_a="yh",
        staff_b="hy",
        superuser="yy",
        marker=lambda w, s: s.application.title,
    ),
    api(
        "POST",
        "api-application-list",
        **TEAM_API,
        data=lambda w, s: {"project": s.project.pk, "call": s.fast_call.slug, "title": "Matrix application"},
        effect=new_application,
    ),
    api("GET", "api-application-detail", **TEAM_AND_STAFF_API, reviewer_a="yn", args=pk("application")),
    api(
        "PATCH",
        "api-application-detail",
        **TEAM_API,
        args=pk("draft"),
        data={"title": "Renamed by the matrix"},
        effect=title_is("draft", "Renamed by the matrix"),
    ),
    api(
        "POST",
        "api-application-submit",
        **TEAM_API,
        args=pk("draft"),
        effect=lambda w, s: not status_of("draft", AppStatus.DRAFT)(w, s),
    ),
    api(
        "POST",
        "api-application-withdraw",
        **TEAM_API,
        args=pk("application"),
        effect=status_of("application", AppStatus.WITHDRAWN),
    ),
    api(
        "POST",
        "api-application-approve",
        **STAFF_OF_HUB,
        args=pk("fast_app"),
        data={"reason": "Matrix"},
        effect=status_of("fast_app", AppStatus.APPROVED),
    ),
    api(
        "POST",
        "api-application-reject",
        **STAFF_OF_HUB,
        args=pk("application"),
        data={"reason": "Matrix"},
        effect=status_of("application", AppStatus.REJECTED),
    ),
    api(
        "POST",
        "api-application-request-changes",
        **STAFF_OF_HUB,
        args=pk("application"),
        data={"reason": "Matrix"},
        effect=status_of("application", AppStatus.CHANGES_REQUESTED),
    ),
    api(
        "POST",
        "api-application-assign-reviewers",
        **STAFF_OF_HUB,
        args=pk("application"),
        data=lambda w, s: {"reviewers": [s.reviewer2.pk]},
        effect=lambda w, s: Review.objects.filter(application=s.application, reviewer=s.reviewer2).exists(),
    ),
    # --- Reviews -------------------------------------------------------------------------------
    page(
        "GET",
        "compute:reviewer_reviews",
        "hh",
        anon="nn",
        reviewer_a="yh",
        marker=lambda w, s: s.application.title,
    ),
    page(
        "GET",
        "compute:reviewer_review",
        "nn",
        reviewer_a="yn",
        args=pk("review"),
        note="a review is its reviewer's alone (staff see it on the application)",
    ),
    page(
        "POST",
        "compute:reviewer_review",
        "nn",
        reviewer_a="yn",
        args=pk("review"),
        data=review_form,
        effect=review_status(ReviewStatus.SUBMITTED),
    ),
    page(
        "POST",
        "compute:reviewer_decline",
        "nn",
        reviewer_a="yn",
        args=pk("review"),
        data={"reason": "Too busy this month."},
        effect=review_status(ReviewStatus.DECLINED),
    ),
    api("GET", "api-review-list", **PEOPLE_LIST, reviewer_a="yh", marker=lambda w, s: s.application.title),
    api("GET", "api-review-detail", "nn", reviewer_a="yn", args=pk("review")),
    api(
        "POST",
        "api-review-submit",
        "nn",
        reviewer_a="yn",
        args=pk("review"),
        data={
            "scores": {"excellence": 4, "impact": 4, "feasibility": 4},
            "recommendation": "approve",
            "no_conflict_declared": True,
        },
        effect=review_status(ReviewStatus.SUBMITTED),
    ),
    api(
        "POST",
        "api-review-decline",
        "nn",
        reviewer_a="yn",
        args=pk("review"),
        data={"reason": "Too busy this month."},
        effect=review_status(ReviewStatus.DECLINED),
    ),
    # --- Hub staff: the queue and one application ----------------------------------------------
    page("GET", "compute:staff_queue", **STAFF_LIST, marker=lambda w, s: s.application.title),
    page(
        "POST",
        "compute:staff_queue_bulk",
        **STAFF_OF_HUB,
        data=lambda w, s: {"action": "reject", "ids": [s.application.pk], "reason": "Matrix", "confirmed": "on"},
        effect=status_of("application", AppStatus.REJECTED),
        note="another hub's ids are left out of the selection",
    ),
    page("GET", "compute:staff_application", **STAFF_OF_HUB, args=pk("application")),
    page(
        "POST",
        "compute:staff_application_assign",
        **STAFF_OF_HUB,
        args=pk("application"),
        data=lambda w, s: {"reviewer": s.reviewer2.pk},
        effect=lambda w, s: Review.objects.filter(application=s.application, reviewer=s.reviewer2).exists(),
    ),
    page(
        "POST",
        "compute:staff_application_decide",
        **STAFF_OF_HUB,
        variant="approve",
        args=lambda w, s: {"pk": s.fast_app.pk, "action": "approve"},
        data=lambda w, s: {"amount": "100", "reason": "Matrix"},
        effect=status_of("fast_app", AppStatus.APPROVED),
    ),
    page(
        "POST",
        "compute:staff_application_decide",
        **STAFF_OF_HUB,
        variant="reject",
        args=lambda w, s: {"pk": s.application.pk, "action": "reject"},
        data={"reject-reason": "Matrix"},
        effect=status_of("application", AppStatus.REJECTED),
    ),
    page(
        "POST",
        "compute:staff_application_decide",
        **STAFF_OF_HUB,
        variant="request changes",
        args=lambda w, s: {"pk": s.application.pk, "action": "request_changes"},
        data={"changes-reason": "Matrix"},
        effect=status_of("application", AppStatus.CHANGES_REQUESTED),
    ),
    # --- Allocations, the ledger statement, usage ----------------------------------------------
    api(
        "GET",
        "api-allocation-list",
        "hh",
        anon="nn",
        member_a="yh",
        member_b="hy",
        personal="yh",
        partner_a="yh",
        staff_a="yh",
        staff_b="hy",
        superuser="yy",
        marker=lambda w, s: f'"id":{s.allocation.pk},',
        note="a partner key reads the allocations that may run on its own resources",
    ),
    *[
        api(
            "GET",
            name,
            "nn",
            member_a="yn",
            member_b="ny",
            personal="yn",
            partner_a="yn",
            staff_a="yn",
            staff_b="ny",
            superuser="yy",
            args=pk("allocation"),
        )
        for name in ("api-allocation-detail", "api-allocation-statement")
    ],
    api(
        "GET",
        "api-usage-record-list",
        "hh",
        anon="nn",
        member_a="yh",
        member_b="hy",
        personal="yh",
        partner_a="yh",
        staff_a="yh",
        staff_b="hy",
        superuser="yy",
        marker=lambda w, s: s.usage_job,
        note="a partner key reads its own providers' records",
    ),
    api(
        "POST",
        "api-usage-record-list",
        "nn",
        partner_a="yn",
        data=usage_records,
        effect=lambda w, s: UsageRecord.objects.filter(provider=s.provider, external_id="matrix-job").exists(),
        note="only a partner system reports usage, and only for its own resources",
    ),
]
