"""The applicant's pages: projects (team, allocations, usage, ledger statement), the
application form (drafts saved as you type, resource rows, a live credit estimate), and the
application page (timeline, screening report, comments for the applicant, decision).

Every object comes from ``compute.access`` ("this object for this user, or 404"); every
write goes through ``compute.services``. Templates decide nothing: the views pass the
``can_*`` flags. Amounts and balances come from the ledger, computed in the database, so
the number of queries of a page does not grow with its rows.
"""

import csv
import re

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import BigIntegerField, Count, Exists, IntegerField, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce, TruncDate
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.text import slugify
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from gigafactory.audit import audit_trail_for
from gigafactory.errors import InvalidTransition
from gigafactory.forms import add_service_errors
from hubs import access as hub_access
from hubs.models import Hub, Profile, User

from . import access, charts, screening, selectors, services
from .applicant_forms import (
    ApplicationForm,
    MemberAddForm,
    ProjectChoiceForm,
    ProjectForm,
    Row,
    new_row_key,
    parse_rows,
    rows_from_application,
    rows_to_save,
    rows_valid,
)
from .models import (
    OPEN_STATUSES,
    Account,
    AccountKind,
    Allocation,
    AllocationStatus,
    Application,
    AppStatus,
    Entry,
    ProjectMember,
    ProjectRole,
    Review,
    ReviewStatus,
    ScreeningResult,
    Track,
    UsageRecord,
    credits,
)

PAGE_SIZE = 20
USAGE_PAGE_SIZE = 25
STATEMENT_PAGE_SIZE = 25
PROJECT_APPLICATIONS_SHOWN = 10
POLLING_STATUSES = (AppStatus.SUBMITTED, AppStatus.SCREENING)
EDITABLE = (AppStatus.DRAFT, AppStatus.CHANGES_REQUESTED)
# Reviewers' comments for the applicant are shared with the outcome, not while staff decide.
COMMENTS_SHOWN_IN = (AppStatus.CHANGES_REQUESTED, AppStatus.APPROVED, AppStatus.REJECTED, AppStatus.WITHDRAWN)
CSV_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

TIMELINE_LABELS = {
    "application.created": "Draft started",
    "application.submit": "Submitted",
    "application.screening_started": "Automatic screening started",
    "application.send_to_review": "Handed to the hub's staff",
    "application.request_changes": "Changes requested",
    "application.approve": "Approved",
    "application.reject": "Rejected",
    "application.withdraw": "Withdrawn",
}

STATUS_EXPLANATIONS = {
    AppStatus.DRAFT: "A draft: only your team sees it. Submit it when it is complete.",
    AppStatus.SUBMITTED: "Submitted. The automatic screening starts in a moment.",
    AppStatus.SCREENING: "The portal is running its screening checks.",
    AppStatus.IN_REVIEW: "With the hub's staff (and reviewers, on a peer-review call). You will be notified of the "
    "decision.",
    AppStatus.CHANGES_REQUESTED: "The hub's staff ask for changes. Edit the application and submit it again.",
    AppStatus.APPROVED: "Approved: the allocation below is yours to use.",
    AppStatus.REJECTED: "Not approved.",
    AppStatus.WITHDRAWN: "Withdrawn. It needs no further decision.",
}


def _page(request, qs, *, param="page", size=PAGE_SIZE):
    return Paginator(qs, size).get_page(request.GET.get(param))


def _error_text(exc) -> str:
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    if isinstance(exc, InvalidTransition):
        return exc.message
    return str(exc)


# --- Projects -------------------------------------------------------------------------------


def _my_projects(user):
    """Projects ``user`` is on the team of (hub staff see other projects in the admin)."""
    return access.projects_visible_to(user).filter(members__user=user)


def _count_of(model, **filters):
    return Coalesce(
        Subquery(
            model.objects.filter(**filters)
            .order_by()
            .values(next(iter(filters)))
            .annotate(n=Count("pk"))
            .values("n")[:1],
            output_field=IntegerField(),
        ),
        Value(0),
    )


@login_required
def project_list(request):
    user = request.user
    credits_left = Subquery(
        Account.objects.filter(
            kind=AccountKind.ALLOCATION,
            allocation__project=OuterRef("pk"),
            allocation__status=AllocationStatus.ACTIVE,
        )
        .order_by()
        .values("allocation__project")
        .annotate(total=Sum("balance"))
        .values("total")[:1],
        output_field=BigIntegerField(),
    )
    qs = (
        _my_projects(user)
        .select_related("hub", "organisation")
        .annotate(
            my_role=Subquery(ProjectMember.objects.filter(project=OuterRef("pk"), user=user).values("role")[:1]),
            member_count=_count_of(ProjectMember, project=OuterRef("pk")),
            application_count=_count_of(Application, project=OuterRef("pk")),
            open_count=_count_of(Application, project=OuterRef("pk"), status__in=OPEN_STATUSES),
            credits_left=Coalesce(credits_left, Value(0), output_field=BigIntegerField()),
        )
        .order_by("title", "pk")
    )
    page = _page(request, qs)
    for project in page:
        project.is_pi = project.my_role == ProjectRole.PI
        project.credits_left_text = credits(project.credits_left)
    return render(
        request,
        "compute/applicant/project_list.html",
        {"page": page, "can_create": bool(hub_access.member_hub_ids(user)), "filters": {}},
    )


def _member_hubs(user):
    return Hub.objects.filter(pk__in=hub_access.member_hub_ids(user)).order_by("name")


def _profile_organisation(user):
    return Profile.objects.filter(user=user).values_list("organisation_id", flat=True).first()


@login_required
def project_create(request):
    user = request.user
    hubs = _member_hubs(user)
    initial = {"organisation": _profile_organisation(user)}
    hub_slug = request.GET.get("hub")
    if hub_slug:
        initial["hub"] = hubs.filter(slug=hub_slug).first()
    form = ProjectForm(request.POST or None, hubs=hubs, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            project = services.project_create(acting_user=user, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Project “{project}” created. Add your team, then apply to a call.")
            return redirect(project)
    return render(request, "compute/applicant/project_form.html", {"form": form, "has_hubs": hubs.exists()})


def _chart_data(allocations, today):
    """One query: credits used per allocation, resource and day; then a chart per allocation."""
    ids = [a.pk for a in allocations]
    rows = (
        UsageRecord.objects.filter(allocation_id__in=ids)
        .annotate(day=TruncDate("ended_at"))
        .values("allocation_id", "resource__name", "day")
        .annotate(total=Sum("millicredits"))
        .order_by("allocation_id", "resource__name", "day")
    )
    daily: dict[int, dict[str, list]] = {}
    for row in rows:
        daily.setdefault(row["allocation_id"], {}).setdefault(row["resource__name"], []).append(
            (row["day"], row["total"])
        )
    for allocation in allocations:
        per_resource = daily.get(allocation.pk)
        allocation.chart = allocation.chart_narrow = None
        if not per_resource:
            continue
        series = [charts.cumulative(name, points) for name, points in sorted(per_resource.items())]
        common = {
            "series": series,
            "limit_millicredits": allocation.granted_millicredits,
            "start": allocation.starts_on,
            "end": allocation.ends_on,
            "today": today,
            "title": f"Credits used over time: allocation from {allocation.call.title}",
        }
        allocation.chart = charts.usage_chart(chart_id=f"chart-{allocation.pk}", **common)
        allocation.chart_narrow = charts.usage_chart(
            chart_id=f"chart-{allocation.pk}-n", width=360, height=340, narrow=True, **common
        )


class CountedPaginator(Paginator):
    """A paginator given its count, read with another query, instead of running COUNT(*)."""

    def __init__(self, object_list, per_page, *, count: int):
        super().__init__(object_list, per_page)
        self._known_count = count

    @cached_property
    def count(self) -> int:
        return self._known_count


def _project_context(request, project, *, members=None, member_form=None):
    """What the project page shows. ``members``: the team, when read with the project
    (``access.project_with_team``)."""
    user = request.user
    if members is None:
        members = list(
            ProjectMember.objects.filter(project=project).select_related("user").order_by("-role", "user__name", "pk")
        )
    can_manage = access.can_manage_project(user, project)
    for m in members:
        m.is_pi = m.role == ProjectRole.PI or m.user_id == project.pi_id
        m.can_remove = not m.is_pi and (can_manage or m.user_id == user.pk)
        m.is_me = m.user_id == user.pk
    applications = list(
        Application.objects.filter(project=project).select_related("call")[: PROJECT_APPLICATIONS_SHOWN + 1]
    )
    # With their ledger figures and how many usage records and statement entries each has: the
    # two lists below are paged with these counts instead of a COUNT(*) each.
    allocations = [
        selectors.decorate_allocation(a)
        for a in selectors.with_ledger_figures(
            Allocation.objects.filter(project=project)
            .select_related("call", "application")
            .annotate(
                usage_count=_count_of(UsageRecord, allocation=OuterRef("pk")),
                statement_count=_count_of(
                    Entry, account__allocation=OuterRef("pk"), account__kind=AccountKind.ALLOCATION
                ),
            )
        ).order_by("-starts_on", "-pk")
    ]
    today = timezone.localdate()
    _chart_data(allocations, today)

    usage = CountedPaginator(
        UsageRecord.objects.filter(allocation__project=project).select_related("resource", "allocation"),
        USAGE_PAGE_SIZE,
        count=sum(a.usage_count for a in allocations),
    ).get_page(request.GET.get("usage_page"))
    for record in usage:
        record.gpu_hours = record.gpu_seconds / 3600
        record.credits_text = credits(record.millicredits)

    statement_allocation, statement = None, None
    if allocations:
        wanted = request.GET.get("statement")
        statement_allocation = next((a for a in allocations if str(a.pk) == wanted), allocations[0])
        statement = CountedPaginator(
            Entry.objects.filter(account__allocation=statement_allocation, account__kind=AccountKind.ALLOCATION)
            .select_related("transaction")
            .order_by("id"),
            STATEMENT_PAGE_SIZE,
            count=statement_allocation.statement_count,
        ).get_page(request.GET.get("statement_page"))
        for entry in statement:
            entry.amount_text = credits(entry.amount)
            entry.balance_text = credits(entry.balance_after)
    return {
        "project": project,
        "members": members,
        "can_manage": can_manage,
        "member_form": member_form or MemberAddForm(),
        "applications": applications[:PROJECT_APPLICATIONS_SHOWN],
        "more_applications": len(applications) > PROJECT_APPLICATIONS_SHOWN,
        "allocations": allocations,
        "usage": usage,
        "statement_allocation": statement_allocation,
        "statement": statement,
        "open_calls_url": reverse("compute:call_list") + f"?hub={project.hub.slug}",
    }


@login_required
def project_detail(request, pk):
    project, members = access.project_with_team(request.user, pk)
    context = _project_context(request, project, members=members or None)
    return render(request, "compute/applicant/project_detail.html", context)


@login_required
@require_POST
def project_member_add(request, pk):
    project = access.project_for(request.user, pk)
    form = MemberAddForm(request.POST)
    if form.is_valid():
        email = form.cleaned_data["email"]
        person = User.objects.filter(email__iexact=email).first()
        if person is None:
            form.add_error(
                "email", f"No one has an account with {email}. Ask them to sign up first, then add them here."
            )
        else:
            try:
                services.project_add_member(project=project, user=person, acting_user=request.user)
            except PermissionDenied as exc:
                messages.error(request, str(exc))
                return redirect(reverse("compute:project_detail", args=[project.pk]) + "#members")
            except ValidationError as exc:
                form.add_error("email", exc.messages)
            else:
                messages.success(request, f"{person.display_name} is now on the team of “{project}”.")
                return redirect(reverse("compute:project_detail", args=[project.pk]) + "#members")
    context = _project_context(request, project, member_form=form)
    return render(request, "compute/applicant/project_detail.html", context, status=400)


@login_required
@require_POST
def project_member_remove(request, pk, user_pk):
    project = access.project_for(request.user, pk)
    person = get_object_or_404(User, pk=user_pk, project_memberships__project=project)
    try:
        services.project_remove_member(project=project, user=person, acting_user=request.user)
    except (PermissionDenied, ValidationError) as exc:
        messages.error(request, _error_text(exc))
        return redirect(reverse("compute:project_detail", args=[project.pk]) + "#members")
    if person.pk == request.user.pk:
        messages.success(request, f"You left the project “{project}”.")
        return redirect("compute:project_list")
    messages.success(request, f"{person.display_name} was removed from the team.")
    return redirect(reverse("compute:project_detail", args=[project.pk]) + "#members")


class _Echo:
    def write(self, value):
        return value


def csv_safe(value):
    """Neutralise a cell a spreadsheet would read as a formula (=, +, -, @, tab, CR)."""
    if isinstance(value, str) and value.startswith(CSV_FORMULA_PREFIXES):
        return "'" + value
    return value


USAGE_CSV_HEADER = [
    "job_id",
    "resource",
    "gpu_model",
    "allocation",
    "slurm_account",
    "user",
    "started_at",
    "ended_at",
    "gpu_hours",
    "credits",
]


@login_required
@require_GET
def project_usage_csv(request, pk):
    """Every usage record of the project, newest first, streamed (one query, in chunks);
    ``?transaction=<id>``: only the jobs one ledger statement line charged."""
    project = access.project_for(request.user, pk)
    records = (
        UsageRecord.objects.filter(allocation__project=project)
        .select_related("resource", "allocation")
        .order_by("-started_at", "-id")
    )
    suffix = ""
    wanted = request.GET.get("transaction", "")
    if wanted:
        if not re.fullmatch(r"[0-9]{1,18}", wanted):  # ASCII digits, within PostgreSQL's bigint
            raise Http404("No such ledger transaction.")
        records = records.filter(transaction_id=int(wanted))
        suffix = f"-transaction-{int(wanted)}"
    writer = csv.writer(_Echo())

    def lines():
        yield writer.writerow(USAGE_CSV_HEADER)
        for r in records.iterator(chunk_size=2000):
            yield writer.writerow(
                [
                    csv_safe(r.external_id),
                    csv_safe(r.resource.name),
                    csv_safe(r.resource.gpu_model),
                    r.allocation_id,
                    csv_safe(r.allocation.slurm_account),
                    csv_safe(r.user_label),
                    r.started_at.isoformat(),
                    r.ended_at.isoformat(),
                    f"{r.gpu_seconds / 3600:.4f}",
                    credits(r.millicredits).replace(",", ""),
                ]
            )

    name = slugify(project.title)[:40] or f"project-{project.pk}"
    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="usage-{name}{suffix}-{timezone.localdate():%Y-%m-%d}.csv"'
    return response


# --- Apply: pick or create the project, then the form ---------------------------------------


def application_create(request, *, call):
    """Step one of applying to ``call`` (reached through ``compute:application_create``, which
    checks the login and that the call is open): choose one of your projects at the call's
    hub, or create one; a draft is started and the form opens."""
    user = request.user
    hub = call.hub
    is_member = hub_access.role_in(user, hub) is not None
    projects = _my_projects(user).filter(hub=hub).order_by("title", "pk")
    drafts = (
        access.applications_visible_to(user, for_write=True)
        .filter(call=call, project__members__user=user, status__in=EDITABLE)
        .select_related("project")
        .order_by("-updated_at")
    )
    action = request.POST.get("action") if request.method == "POST" else None
    choice_form = ProjectChoiceForm(request.POST if action == "choose" else None, projects=projects)
    project_form = ProjectForm(
        request.POST if action == "new_project" else None,
        fixed_hub=hub,
        initial={"organisation": _profile_organisation(user)},
    )
    draft_fields = {"duration_days": call.allocation_days} if 0 < call.allocation_days <= 3650 else {}
    if action == "choose" and choice_form.is_valid():
        try:
            application = services.application_create(
                project=choice_form.cleaned_data["project"], call=call, acting_user=user, **draft_fields
            )
        except (ValidationError, PermissionDenied) as exc:
            messages.error(request, _error_text(exc))
        else:
            return redirect("compute:application_edit", pk=application.pk)
    elif action == "new_project" and project_form.is_valid():
        try:
            with transaction.atomic():
                project = services.project_create(hub=hub, acting_user=user, **project_form.cleaned_data)
                application = services.application_create(project=project, call=call, acting_user=user, **draft_fields)
        except ValidationError as exc:
            add_service_errors(project_form, exc)
        else:
            messages.success(request, f"Project “{project}” created. Now describe what you need.")
            return redirect("compute:application_edit", pk=application.pk)
    return render(
        request,
        "compute/applicant/apply.html",
        {
            "call": call,
            "hub": hub,
            "is_member": is_member,
            "projects": projects,
            "drafts": drafts,
            "choice_form": choice_form,
            "project_form": project_form,
            "show_new_project": action == "new_project" or not projects.exists(),
        },
    )


# --- The application form -------------------------------------------------------------------


def _editable_application(request, pk):
    """The application if ``request.user`` may edit it now; otherwise ``None``."""
    application = access.application_for(request.user, pk)
    return application, access.can_edit(request.user, application)


def _estimate(call, rows: list[Row]) -> dict:
    limit = screening.track_limit(call)
    total = sum(r.millicredits for r in rows if r.millicredits is not None)
    for row in rows:
        row.credits_text = credits(row.millicredits) if row.millicredits is not None else ""
    over = total > limit
    note = ""
    if over and call.track == Track.PLAYGROUND:
        note = (
            f"More than the playground's grant of {credits(limit)} credits: the automatic screening will reject "
            f"it. Ask for at most {credits(limit)} credits."
        )
    elif over and call.track == Track.FAST_LANE:
        note = (
            f"More than the fast-lane limit of {credits(limit)} credits: it will not be approved automatically; "
            f"the hub's staff will look at it."
        )
    elif over:
        note = f"More than the call's limit of {credits(limit)} credits per application: screening will flag it."
    return {
        "rows": rows,
        "total": total,
        "total_text": credits(total),
        "limit_text": credits(limit),
        "over_limit": over,
        "limit_note": note,
        "has_rows": any(r.millicredits is not None for r in rows),
    }


def _first_unused(resources, rows) -> str:
    used = {r.resource_id for r in rows}
    return next((str(r.pk) for r in resources if str(r.pk) not in used), "")


def _form_context(request, application, form, rows, resources, *, general_errors=(), save_message=""):
    return {
        "application": application,
        "call": application.call,
        "form": form,
        "rows": rows,
        "resources": resources,
        "row_errors_general": list(general_errors),
        "estimate": _estimate(application.call, rows),
        "save_message": save_message,
        "can_withdraw": access.can_withdraw(request.user, application),
        "resubmission": application.status == AppStatus.CHANGES_REQUESTED,
    }


def _map_service_errors(exc: ValidationError, form, general: list):
    """Put a service's per-field errors on the form fields; row errors go to the rows."""
    for name, errors in exc.message_dict.items():
        if name in form.fields:
            form.add_error(name, errors)
        else:
            general.extend(errors)


def _save(application, user, form, rows, general) -> bool:
    """Validate and save the draft in one transaction; ``True`` when saved."""
    form_ok = form.is_valid()
    if not (form_ok and rows_valid(rows) and not general):
        return False
    try:
        services.application_update_draft(
            application=application, acting_user=user, resource_rows=rows_to_save(rows), **form.cleaned_data
        )
    except ValidationError as exc:
        _map_service_errors(exc, form, general)
        return False
    return True


@login_required
def application_edit(request, pk):
    application, editable = _editable_application(request, pk)
    if not editable:
        messages.info(
            request,
            f"This application is {application.get_status_display().lower()}: it cannot be edited now.",
        )
        return redirect(application)
    resources = list(selectors.call_resources(application.call))
    if request.method != "POST":
        form = ApplicationForm.for_application(application)
        rows = rows_from_application(application.resource_requests.select_related("resource"))
        if not rows and resources:
            rows = [Row(key=new_row_key(), resource_id=str(resources[0].pk), resource=resources[0])]
        return render(
            request,
            "compute/applicant/application_form.html",
            _form_context(request, application, form, rows, resources),
        )

    form = ApplicationForm(request.POST)
    rows, general = parse_rows(request.POST, resources)
    action = request.POST.get("action", "save")
    remove = request.POST.get("remove_row")
    if remove or action == "add_row":  # without JavaScript: change the rows, save nothing yet
        if remove:
            rows = [r for r in rows if r.key != remove]
        else:
            chosen = _first_unused(resources, rows)
            rows.append(
                Row(
                    key=new_row_key(),
                    resource_id=chosen,
                    resource=next((r for r in resources if str(r.pk) == chosen), None),
                )
            )
        for row in rows:
            row.errors = {}
        # Show the form as typed, without complaints, while the rows change.
        form = ApplicationForm.as_typed(request.POST)
        return render(
            request,
            "compute/applicant/application_form.html",
            _form_context(request, application, form, rows, resources),
        )
    try:
        saved = _save(application, request.user, form, rows, general)
    except InvalidTransition as exc:
        messages.error(request, exc.message)
        return redirect(application)
    if saved and action == "submit":
        try:
            services.application_submit(application=application, acting_user=request.user)
        except ValidationError as exc:
            _map_service_errors(exc, form, general)
            messages.error(request, "Your draft is saved, but it cannot be submitted yet: see the notes below.")
        except (InvalidTransition, PermissionDenied) as exc:
            messages.error(request, _error_text(exc))
            return redirect(application)
        else:
            messages.success(request, _submitted_message(application))
            return redirect(application)
    elif saved:
        messages.success(request, "Draft saved.")
        return redirect("compute:application_edit", pk=application.pk)
    else:
        messages.error(request, "Not saved: please correct the fields marked below.")
    return render(
        request,
        "compute/applicant/application_form.html",
        _form_context(request, application, form, rows, resources, general_errors=general),
        status=400,
    )


def _submitted_message(application) -> str:
    if application.status == AppStatus.APPROVED:
        return f"“{application}” was submitted and approved."
    return f"“{application}” was submitted. You will be notified of each step."


def _error_slots(form, rows, general) -> list[tuple[str, str]]:
    """Every error slot of the form with its current message ('' clears it)."""
    slots = [(name, " ".join(form.errors.get(name, []))) for name in form.fields]
    slots.append(("rows", " ".join(general)))
    for row in rows:
        slots.append((f"row-{row.key}-resource", row.errors.get("resource", "")))
        slots.append((f"row-{row.key}-gpu_hours", row.errors.get("gpu_hours", "")))
    return slots


@login_required
@require_POST
def application_autosave(request, pk):
    """Save the draft as it is typed; answer the "Draft saved" line and every field's error slot.

    Invalid input saves nothing (the service writes fields and rows in one transaction)."""
    application, editable = _editable_application(request, pk)
    form = ApplicationForm(request.POST)
    rows, general = [], []
    if not editable:
        message, ok = (
            f"Not saved: this application is {application.get_status_display().lower()} and can no longer be edited.",
            False,
        )
    else:
        resources = list(selectors.call_resources(application.call))
        rows, general = parse_rows(request.POST, resources)
        try:
            ok = _save(application, request.user, form, rows, general)
        except InvalidTransition as exc:
            ok, general = False, [*general, exc.message]
        if ok:
            message = f"Draft saved at {timezone.localtime():%H:%M}."
        else:
            message = "Not saved yet: please correct the fields marked in red."
    context = {"save_message": message, "save_ok": ok, "error_slots": _error_slots(form, rows, general)}
    response = render(request, "compute/applicant/_autosave.html", context)
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def application_estimate(request, pk):
    """The credit estimate of the rows as typed (hours x rate per row, and the total)."""
    application = access.application_for(request.user, pk)
    resources = list(selectors.call_resources(application.call))
    rows, _general = parse_rows(request.POST, resources)
    return render(
        request,
        "compute/applicant/application_form.html#estimate",
        {"estimate": _estimate(application.call, rows), "call": application.call},
    )


@login_required
@require_GET
def application_row_new(request, pk):
    """A new, empty resource row (the first resource not yet requested is preselected)."""
    application, editable = _editable_application(request, pk)
    if not editable:
        raise Http404("This application cannot be edited.")
    resources = list(selectors.call_resources(application.call))
    taken = [Row(key="x", resource_id=v) for v in request.GET.getlist("row_resource")]
    chosen = _first_unused(resources, taken)
    row = Row(key=new_row_key(), resource_id=chosen)
    return render(
        request,
        "compute/applicant/application_form.html#row",
        {"row": row, "resources": resources, "focus": True, "application": application},
    )


@login_required
@require_POST
def application_submit(request, pk):
    application = access.application_for(request.user, pk)
    try:
        services.application_submit(application=application, acting_user=request.user)
    except ValidationError as exc:
        messages.error(request, "It cannot be submitted yet: " + " ".join(exc.messages))
        if access.can_edit(request.user, application):
            return redirect("compute:application_edit", pk=application.pk)
    except (InvalidTransition, PermissionDenied) as exc:
        messages.error(request, _error_text(exc))
    else:
        messages.success(request, _submitted_message(application))
    return redirect(application)


@login_required
@require_POST
def application_withdraw(request, pk):
    application = access.application_for(request.user, pk)
    try:
        services.application_withdraw(application=application, acting_user=request.user)
    except (InvalidTransition, PermissionDenied) as exc:
        messages.error(request, _error_text(exc))
    else:
        messages.success(request, f"“{application}” was withdrawn.")
    return redirect(application)


# --- My applications and the application page -----------------------------------------------


@login_required
def application_list(request):
    user = request.user
    status = request.GET.get("status", "")
    if status not in AppStatus.values:
        status = ""
    project_id = request.GET.get("project", "")
    qs = (
        access.applications_visible_to(user)
        .filter(project__in=ProjectMember.objects.filter(user=user).values("project_id"))
        .select_related("call", "project")
        .order_by("-updated_at", "-pk")
    )
    if status:
        qs = qs.filter(status=status)
    if project_id.isdigit():
        qs = qs.filter(project_id=int(project_id))
    else:
        project_id = ""
    page = _page(request, qs)
    for application in page:
        application.requested_text = credits(application.requested_millicredits)
        application.granted_text = (
            credits(application.granted_millicredits) if application.granted_millicredits is not None else ""
        )
    return render(
        request,
        "compute/applicant/application_list.html",
        {
            "page": page,
            "statuses": AppStatus.choices,
            "filters": {"status": status, "project": project_id},
            "is_filtered": bool(status or project_id),
        },
    )


def _timeline(application) -> list[dict]:
    # Whether each actor is on the team, in the same query: a team member is named, staff are not.
    on_team = Exists(ProjectMember.objects.filter(project_id=application.project_id, user_id=OuterRef("actor_id")))
    events = []
    for event in reversed(list(audit_trail_for(application).annotate(actor_on_team=on_team))):
        after = event.after or {}
        label = TIMELINE_LABELS.get(event.action)
        if label is None:
            status = after.get("status")
            if not status:
                continue
            label = AppStatus(status).label if status in AppStatus.values else status
        if event.action == "application.submit" and (after.get("round") or 1) > 1:
            label = "Resubmitted"
        if event.actor_id is not None and event.actor_on_team:
            who = event.actor.display_name
        elif event.actor_id is not None:
            who = f"Staff of {application.hub}"
        else:
            who = (event.actor_label or "the portal").capitalize()
        events.append({"label": label, "at": event.created_at, "who": who, "reason": after.get("reason", "")})
    return events


def _screening_report(application):
    if not application.screening_round:
        return []
    return list(ScreeningResult.objects.filter(application=application, round=application.screening_round))


@login_required
@vary_on_headers("HX-Request")
def application_detail(request, pk):
    user = request.user
    application = access.application_for(user, pk, extend=selectors.with_allocation)
    results = _screening_report(application)
    # What the polling status area last showed; unchanged -> 204 and htmx keeps the page as it is.
    version = f"{application.status}:{application.screening_round}:{len(results)}"
    if request.htmx and request.GET.get("since") == version:
        return HttpResponse(status=204)

    rows = list(application.resource_requests.select_related("resource"))
    for row in rows:
        row.credits_text = credits(row.millicredits)
    is_team = access.is_project_member(user, application.project)  # read with the application
    comments = []
    if application.status in COMMENTS_SHOWN_IN:
        # Only what reviewers wrote for the applicant; never private comments or who wrote it.
        comments = list(
            Review.objects.filter(application=application, status=ReviewStatus.SUBMITTED)
            .exclude(comment_for_applicant="")
            .order_by("submitted_at", "pk")
            .values_list("comment_for_applicant", flat=True)
        )
    allocation = selectors.allocation_of(application) if application.status == AppStatus.APPROVED else None
    context = {
        "application": application,
        "call": application.call,
        "rows": rows,
        "requested_text": credits(application.requested_millicredits),
        "granted_text": credits(application.granted_millicredits) if application.granted_millicredits else "",
        "timeline": _timeline(application),
        "results": results,
        "failed_checks": sum(1 for r in results if not r.passed),
        "comments": comments,
        "comments_pending": application.status == AppStatus.IN_REVIEW,
        "allocation": allocation,
        "explanation": STATUS_EXPLANATIONS.get(application.status, ""),
        "polling": application.status in POLLING_STATUSES,
        "version": version,
        "can_edit": access.can_edit(user, application),
        "can_withdraw": access.can_withdraw(user, application),
        "is_team": is_team,
        # The AI systems the screening checks (AI Act class, ethics sign-off), for those who work on them.
        "linked_systems": list(application.ai_systems.order_by("name"))
        if is_team or hub_access.is_hub_staff(user, application.hub)
        else [],
        "decided_automatically": application.decided_at is not None and application.decided_by_id is None,
    }
    template = "compute/applicant/application_detail.html"
    if request.htmx:
        template += "#live"
    return render(request, template, context)
