"""The one access layer for compute objects, mirroring ``hubs.access``.

Pages, the API, the admin and tasks fetch applications, projects and reviews here: "this
object for this user, or 404". Who sees an application:

- the members of its project (PI and members, from any hub);
- reviewers, only the applications they are assigned to (a declined review gives no access);
- staff of the application's hub (the hub of its call);
- superusers, everything.

An API key narrows whatever its owner may see to the key's hub. Partner keys (no user) see
no applications, projects or reviews.

The scopes are written so that PostgreSQL answers them from indexes at any size: the staff part
is a plain ``hub_id IN (...)``, and a person's own projects and reviews are small sets matched
with ``__in_array`` (``= ANY(ARRAY(subquery))``, see ``gigafactory.lookups``), so the OR of the
two is a BitmapOr of index scans rather than a scan of every application.

The ``can_*`` flags combine the role with the current state, for templates and serializers;
services check the role with the ``is_*`` helpers and the state with a conditional UPDATE.
"""

from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.shortcuts import get_object_or_404

from hubs.access import is_hub_staff, staff_hub_ids

from .models import (
    OPEN_STATUSES,
    Allocation,
    Application,
    AppStatus,
    Call,
    ComputeProvider,
    Project,
    ProjectMember,
    ProjectRole,
    Review,
    ReviewStatus,
    Track,
    UsageRecord,
)

EDITABLE_STATUSES = (AppStatus.DRAFT, AppStatus.CHANGES_REQUESTED)


def _project_ids_of(user) -> QuerySet:
    return ProjectMember.objects.filter(user=user).values("project_id")


def _reviewed_application_ids(user) -> QuerySet:
    return Review.objects.filter(reviewer=user).exclude(status=ReviewStatus.DECLINED).values("application_id")


# --- Applications ---------------------------------------------------------------------------


def _in_key_hub(api_key, via="") -> Q:
    """Rows of the key's hub: their own hub or their project's."""
    return Q(**{f"{via}hub_id": api_key.hub_id}) | Q(**{f"{via}project__hub_id": api_key.hub_id})


def applications_visible_to(user, api_key=None, *, for_write=False) -> QuerySet:
    """Applications ``user`` may read (``for_write``: may change: project members and staff, not reviewers)."""
    qs = Application.objects.all()
    if not user.is_authenticated:
        return qs.none()
    staff_ids = staff_hub_ids(user, api_key)
    if staff_ids is None:  # a superuser: everything, or the key's hub
        return qs.filter(_in_key_hub(api_key)) if api_key is not None else qs
    own = Q(project_id__in_array=_project_ids_of(user))
    if not for_write:
        own |= Q(pk__in_array=_reviewed_application_ids(user))
    if api_key is not None:
        own &= _in_key_hub(api_key)
    # With a key, staff_ids is at most the key's hub, so the staff part needs no narrowing.
    return qs.filter(Q(hub_id__in=staff_ids) | own if staff_ids else own)


def _team_role(user, project_ref: str) -> Subquery:
    """The viewer's role on the project's team (NULL: not on it), as a column of the same query."""
    return Subquery(ProjectMember.objects.filter(project_id=OuterRef(project_ref), user_id=user.pk).values("role")[:1])


def _read_with_team_role(qs, user, pk, *, project_ref: str, project_of):
    """``get_object_or_404`` that also reads the viewer's team role in the same query and keeps it
    on the project, where ``is_project_member`` and ``is_project_pi`` find it: a page asks them
    for several flags and would pay a query each. Only for reads: a write re-checks in the
    transaction that locks the row (services get their objects with ``for_write``)."""
    obj = get_object_or_404(qs.annotate(viewer_team_role=_team_role(user, project_ref)), pk=pk)
    project_of(obj).__dict__.setdefault("_gf_team_roles", {})[user.pk] = obj.viewer_team_role
    return obj


def application_for(user, pk, *, for_write=False, api_key=None, extend=None) -> Application:
    """``extend``: a function that adds what a page reads with the application (joins,
    annotations) to the scoped queryset, so it comes in the same query."""
    qs = applications_visible_to(user, api_key, for_write=for_write).select_related(
        "call", "project", "hub", "applicant"
    )
    if extend is not None:
        qs = extend(qs)
    if for_write:
        return get_object_or_404(qs.select_for_update(of=("self",)), pk=pk)
    return _read_with_team_role(qs, user, pk, project_ref="project_id", project_of=lambda a: a.project)


def applications_for_staff(user, api_key=None) -> QuerySet:
    ids = staff_hub_ids(user, api_key)
    qs = Application.objects.all()
    if ids is None:
        return qs
    return qs.filter(hub_id__in=ids)


def application_for_staff(user, pk, *, for_write=False, api_key=None, extend=None) -> Application:
    """``extend``: as for ``application_for``."""
    qs = applications_for_staff(user, api_key).select_related(
        "call", "project", "project__organisation", "hub", "applicant"
    )
    if extend is not None:
        qs = extend(qs)
    if for_write:
        return get_object_or_404(qs.select_for_update(of=("self",)), pk=pk)
    return _read_with_team_role(qs, user, pk, project_ref="project_id", project_of=lambda a: a.project)


# --- Projects -------------------------------------------------------------------------------


def projects_visible_to(user, api_key=None) -> QuerySet:
    """Projects of which ``user`` is a member, and projects that have a home or an application
    at a hub ``user`` runs."""
    qs = Project.objects.all()
    if not user.is_authenticated:
        return qs.none()
    if api_key is not None:
        qs = qs.filter(hub_id=api_key.hub_id)
    staff_ids = staff_hub_ids(user, api_key)
    if staff_ids is None:
        return qs
    visible = Q(pk__in_array=_project_ids_of(user))
    if staff_ids:
        visible |= Q(hub_id__in=staff_ids) | Q(
            pk__in=Application.objects.filter(hub_id__in=staff_ids).values("project_id")
        )
    return qs.filter(visible)


def project_for(user, pk, *, for_write=False, api_key=None) -> Project:
    qs = projects_visible_to(user, api_key).select_related("hub", "pi", "organisation")
    if for_write:
        return get_object_or_404(qs.select_for_update(of=("self",)), pk=pk)
    return _read_with_team_role(qs, user, pk, project_ref="pk", project_of=lambda p: p)


def project_with_team(user, pk) -> tuple[Project, list[ProjectMember]]:
    """``project_for`` and the project's team (with their users) in one query: the team's rows
    joined to their project, scoped as ``projects_visible_to``. A project always has its PI on
    the team; one without any member (made outside the services) falls back to ``project_for``.
    Knows the viewer's team role, like ``project_for``."""
    members = list(
        ProjectMember.objects.filter(project__in=projects_visible_to(user).filter(pk=pk).values("pk"))
        .select_related("user", "project__hub", "project__pi", "project__organisation")
        .order_by("-role", "user__name", "pk")
    )
    if not members:
        return project_for(user, pk), []
    project = members[0].project
    for member in members:
        member.project = project
    roles = {m.user_id: m.role for m in members}
    project.__dict__.setdefault("_gf_team_roles", {})[user.pk] = roles.get(user.pk)
    return project, members


# --- Reviews --------------------------------------------------------------------------------


def reviews_assigned_to(user, api_key=None) -> QuerySet:
    if not user.is_authenticated:
        return Review.objects.none()
    qs = Review.objects.filter(reviewer=user)
    if api_key is not None:
        qs = qs.filter(application__hub_id=api_key.hub_id)
    return qs


def review_for_reviewer(user, pk, *, for_write=False, api_key=None) -> Review:
    qs = reviews_assigned_to(user, api_key).select_related("application", "application__call", "application__project")
    if for_write:
        qs = qs.select_for_update(of=("self",))
    return get_object_or_404(qs, pk=pk)


# --- Roles ----------------------------------------------------------------------------------


_UNKNOWN = object()


def _known_team_role(user, project):
    """The role ``_read_with_team_role`` read with the project (None: not on the team), or _UNKNOWN."""
    return getattr(project, "_gf_team_roles", {}).get(user.pk, _UNKNOWN)


def is_project_member(user, project) -> bool:
    if not user.is_authenticated:
        return False
    role = _known_team_role(user, project)
    if role is not _UNKNOWN:
        return role is not None
    return ProjectMember.objects.filter(project_id=project.pk, user_id=user.pk).exists()


def is_project_pi(user, project) -> bool:
    if not user.is_authenticated:
        return False
    if project.pi_id == user.pk:
        return True
    role = _known_team_role(user, project)
    if role is not _UNKNOWN:
        return role == ProjectRole.PI
    return ProjectMember.objects.filter(project_id=project.pk, user_id=user.pk, role=ProjectRole.PI).exists()


def can_manage_project(user, project) -> bool:
    """Add and remove members: the PI and staff of the project's hub."""
    return user.is_authenticated and (is_project_pi(user, project) or is_hub_staff(user, project.hub))


def is_decider(user, application) -> bool:
    """Staff of the application's hub who are not on its project (nobody decides their own)."""
    return (
        user is not None
        and user.is_authenticated
        and is_hub_staff(user, application.hub)
        and not is_project_member(user, application.project)
    )


def may_withdraw(user, application) -> bool:
    return user.is_authenticated and (application.applicant_id == user.pk or is_project_pi(user, application.project))


# --- Flags for templates and serializers (role and current state) ----------------------------


def can_edit(user, application) -> bool:
    return application.status in EDITABLE_STATUSES and is_project_member(user, application.project)


can_submit = can_edit


def can_withdraw(user, application) -> bool:
    return application.status in OPEN_STATUSES and may_withdraw(user, application)


def can_decide(user, application) -> bool:
    """Approve or reject now (peer review: see ``reviews_missing`` for approval)."""
    return application.status == AppStatus.IN_REVIEW and is_decider(user, application)


def can_request_changes(user, application) -> bool:
    return application.status in (AppStatus.IN_REVIEW, AppStatus.SCREENING) and is_decider(user, application)


def can_assign_reviewers(user, application) -> bool:
    return application.status == AppStatus.IN_REVIEW and is_decider(user, application)


def can_review(user, review) -> bool:
    return (
        user.is_authenticated
        and review.reviewer_id == user.pk
        and review.status == ReviewStatus.ASSIGNED
        and review.application.status == AppStatus.IN_REVIEW
    )


def reviews_missing(application) -> int:
    """How many more submitted reviews a peer-review application needs before approval."""
    if application.call.track != Track.PEER_REVIEW:
        return 0
    done = application.reviews.filter(status=ReviewStatus.SUBMITTED).count()
    return max(0, application.call.min_reviewers - done)


# --- Allocations and usage --------------------------------------------------------------------


def _allocation_scope(qs, user, api_key, *, via=""):
    """Narrow ``qs`` (allocations, or rows reached through ``via`` = "allocation__") to what the
    caller may read: a partner key, allocations whose call may run on one of its providers'
    resources; a person, their projects' allocations and every allocation of the hubs they run
    (a personal key narrows this to the key's hub)."""
    if api_key is not None and api_key.partner_id is not None:
        calls = Call.eligible_resources.through.objects.filter(
            computeresource__provider__partner_id=api_key.partner_id
        ).values("call_id")
        return qs.filter(**{f"{via}call_id__in": calls})
    if not user.is_authenticated:
        return qs.none()
    staff_ids = staff_hub_ids(user, api_key)
    if staff_ids is None:
        return qs.filter(_in_key_hub(api_key, via)) if api_key is not None else qs
    own = Q(**{f"{via}project_id__in_array": _project_ids_of(user)})
    if api_key is not None:
        own &= _in_key_hub(api_key, via)
    return qs.filter(Q(**{f"{via}hub_id__in": staff_ids}) | own if staff_ids else own)


def allocations_visible_to(user, api_key=None) -> QuerySet:
    return _allocation_scope(Allocation.objects.all(), user, api_key)


def usage_records_visible_to(user, api_key=None) -> QuerySet:
    """As allocations, except that a partner key reads only its own providers' records."""
    if api_key is not None and api_key.partner_id is not None:
        providers = ComputeProvider.objects.filter(partner_id=api_key.partner_id).values("pk")
        return UsageRecord.objects.filter(provider__in=providers)
    return _allocation_scope(UsageRecord.objects.all(), user, api_key, via="allocation__")
