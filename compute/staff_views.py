"""Pages of peer review and of hub staff's decisions.

- Reviewers (``/reviews/``): the reviews assigned to them, and the review form (the call's
  rubric, comments, recommendation, conflict-of-interest declaration; or declining).
- Hub staff (``/staff/``, so ``hubs.middleware`` asks staff for MFA first): the application
  queue with filters and bulk actions, and one application with everything staff may see,
  assigning reviewers and deciding.

Objects come from ``compute.access``; every change is a ``compute.services`` call; a refused
transition becomes a message, never an error page. Templates decide nothing: the views pass
what the user may do.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers

from gigafactory.errors import InvalidTransition
from gigafactory.forms import add_service_errors
from hubs import access as hub_access
from hubs.models import User

from . import access, queue, services
from .models import ReviewStatus, Track, credits
from .staff_forms import (
    BULK_ACTIONS,
    NEEDS_REASON,
    ApproveForm,
    AssignReviewerForm,
    BulkActionForm,
    DeclineForm,
    QueueFilterForm,
    ReasonForm,
    ReviewForm,
)

PAGE_SIZE = 25
REFUSED = (InvalidTransition, PermissionDenied, ValidationError)


def _error_text(exc) -> str:
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    return getattr(exc, "message", None) or str(exc) or "This is not allowed."


def _page(request, qs):
    return Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))


def _application_facts(application) -> dict:
    """What reviewers and staff both read: the request, its resources and the latest screening."""
    rows = queue.resource_rows(application)
    screening = queue.latest_screening(application)
    return {
        "application": application,
        "call": application.call,
        "resource_rows": rows,
        "requested_credits": credits(application.requested_millicredits),
        "screening": screening,
        "screening_failures": sum(1 for r in screening if not r.passed),
    }


# --- Reviewers ------------------------------------------------------------------------------


@login_required
def reviewer_reviews(request):
    page = _page(request, queue.reviews_for_reviewer(request.user))
    today = timezone.localdate()
    for review in page:
        review.deadline = queue.next_cutoff(review.application.call, today)
        review.can_review = access.can_review(request.user, review)
    todo = sum(1 for review in page if review.can_review)
    return render(request, "compute/reviewer/review_list.html", {"page": page, "filters": {}, "todo_on_page": todo})


def _render_review(request, review, *, form=None, decline_form=None, status=200):
    application = review.application
    can_review = access.can_review(request.user, review)
    rubric = application.call.rubric or []
    scores = [{"label": c.get("label") or c["key"], "score": (review.scores or {}).get(c["key"])} for c in rubric]
    context = {
        **_application_facts(application),
        "review": review,
        "can_review": can_review,
        "form": form or ReviewForm(rubric=rubric),
        "decline_form": decline_form or DeclineForm(),
        "submitted_scores": scores,
        "deadline": queue.next_cutoff(application.call),
        "organisation": application.project.organisation,
    }
    return render(request, "compute/reviewer/review_form.html", context, status=status)


@login_required
def reviewer_review(request, pk):
    review = access.review_for_reviewer(request.user, pk)
    if request.method != "POST":
        return _render_review(request, review)
    if not access.can_review(request.user, review):
        messages.error(request, _closed_review_text(review))
        return redirect("compute:reviewer_review", pk=review.pk)
    form = ReviewForm(request.POST, rubric=review.application.call.rubric)
    if form.is_valid():
        try:
            services.review_submit(review=review, acting_user=request.user, **form.service_kwargs())
        except ValidationError as exc:
            add_service_errors(form, exc)
        except (InvalidTransition, PermissionDenied) as exc:
            messages.error(request, _error_text(exc))
            return redirect("compute:reviewer_review", pk=review.pk)
        else:
            messages.success(request, f"Thank you: your review of “{review.application}” is submitted.")
            return redirect("compute:reviewer_reviews")
    messages.error(request, "The review is not submitted yet: please correct the marked fields.")
    return _render_review(request, review, form=form, status=400)


def _closed_review_text(review) -> str:
    if review.status != ReviewStatus.ASSIGNED:
        return f"This review is already {review.get_status_display().lower()}; it cannot be changed."
    return f"The application is {review.application.get_status_display().lower()}; it no longer takes reviews."


@login_required
@require_POST
def reviewer_decline(request, pk):
    review = access.review_for_reviewer(request.user, pk)
    form = DeclineForm(request.POST)
    if form.is_valid():
        try:
            services.review_decline(review=review, acting_user=request.user, reason=form.cleaned_data["reason"])
        except ValidationError as exc:
            add_service_errors(form, exc)
        except (InvalidTransition, PermissionDenied) as exc:
            messages.error(request, _error_text(exc))
            return redirect("compute:reviewer_review", pk=review.pk)
        else:
            messages.success(
                request, f"You declined to review “{review.application}”. Hub staff will assign someone else."
            )
            return redirect("compute:reviewer_reviews")
    return _render_review(request, review, decline_form=form, status=400)


# --- Hub staff: the queue -------------------------------------------------------------------


def _require_hub_staff(user):
    if not hub_access.is_any_hub_staff(user):
        raise PermissionDenied("Only hub staff can see the application queue.")


def _int_or_none(value):
    return int(value) if value and str(value).isdigit() else None


@login_required
@vary_on_headers("HX-Request")
def staff_queue(request):
    _require_hub_staff(request.user)
    calls = queue.queue_calls(request.user)
    form = QueueFilterForm(request.GET or None, calls=calls)
    filters = form.filters()
    qs = queue.staff_queue(
        request.user,
        hub=filters["hub"],
        call=_int_or_none(filters["call"]),
        track=filters["track"],
        status=filters["status"],
        age=_int_or_none(filters["age"]),
        q=filters["q"],
        sort=filters["sort"],
    )
    page = _page(request, qs)
    for application in page:
        application.reviews_needed = queue.reviews_needed(application)
        application.requested_credits = credits(application.requested_millicredits)
    unfiltered_waiting = filters["status"] == queue.WAITING and not any(
        filters[k] for k in ("q", "hub", "call", "track", "age")
    )
    context = {
        "form": form,
        "page": page,
        "filters": filters,
        # The pager has just counted the same rows when the queue shows everything waiting.
        "waiting": page.paginator.count if unfiltered_waiting else queue.waiting_count(request.user),
        "actions": BULK_ACTIONS,
        "here": request.get_full_path(),
        "is_filtered": any(filters[k] for k in ("q", "hub", "call", "track", "age")) or filters["status"] != "waiting",
    }
    template = "compute/staff/queue.html#results" if request.htmx else "compute/staff/queue.html"
    return render(request, template, context)


def _safe_next(request, url) -> str:
    if url and url_has_allowed_host_and_scheme(url, allowed_hosts={request.get_host()}, require_https=False):
        return url
    return reverse("compute:staff_queue")


BULK_SERVICES = {
    "auto_assign": (services.reviews_auto_assign, "given reviewers"),
    "approve": (services.application_approve, "approved"),
    "reject": (services.application_reject, "rejected"),
    "request_changes": (services.application_request_changes, "sent back for changes"),
}


@login_required
@require_POST
def staff_queue_bulk(request):
    """Step 1 (from the queue): confirm the selection and the action (and give the reason);
    step 2 (``confirmed``): call the service once per application, reporting each refusal."""
    _require_hub_staff(request.user)
    form = BulkActionForm(request.POST)
    back = _safe_next(request, request.POST.get("next"))
    form.is_valid()
    data = getattr(form, "cleaned_data", {})
    action, ids = data.get("action"), data.get("ids")
    if not action or not ids:
        messages.error(request, " ".join(e for f in ("action", "ids") for e in form.errors.get(f, [])))
        return redirect(back)
    applications = list(
        access.applications_for_staff(request.user)
        .filter(pk__in=ids)
        .select_related("call", "project", "hub", "applicant")
        .order_by("submitted_at", "pk")
    )
    if not applications:
        messages.error(request, "None of the selected applications is in your hubs.")
        return redirect(back)
    if not data.get("confirmed") or form.errors:
        for application in applications:
            application.requested_credits = credits(application.requested_millicredits)
        context = {
            "form": form,
            "applications": applications,
            "action": action,
            "action_label": dict(BULK_ACTIONS)[action],
            "needs_reason": action in NEEDS_REASON,
            "back": back,
            "total_credits": credits(sum(services.expected_grant(a) for a in applications)),
            "unknown": len(set(ids)) - len(applications),
        }
        return render(request, "compute/staff/queue_confirm.html", context, status=400 if form.errors else 200)
    service, verb = BULK_SERVICES[action]
    extra = {"reason": data["reason"].strip()} if action in NEEDS_REASON else {}
    done, unchanged, refused = 0, [], []
    for application in applications:
        try:
            result = service(application=application, acting_user=request.user, **extra)
        except REFUSED as exc:
            refused.append(f"“{application}”: {_error_text(exc)}")
            continue
        if action == "auto_assign" and not result:
            unchanged.append(f"“{application}” already has the reviewers it needs.")
        else:
            done += 1
    if done:
        messages.success(request, f"{done} application{'s' if done != 1 else ''} {verb}.")
    for text in unchanged[:20]:
        messages.info(request, text)
    for text in refused[:20]:
        messages.warning(request, text)
    if len(refused) > 20:
        messages.warning(request, f"… and {len(refused) - 20} more refused.")
    return redirect(back)


# --- Hub staff: one application -------------------------------------------------------------


def _render_staff_application(request, application, *, status=200, **forms):
    user = request.user
    reviews = queue.reviews_of_application(application)
    done = sum(1 for r in reviews if r.status == ReviewStatus.SUBMITTED)
    needed = queue.reviews_needed(application)
    can_assign = access.can_assign_reviewers(user, application)
    options = queue.reviewer_options(application) if can_assign else []
    can_decide = access.can_decide(user, application)
    rubric = application.call.rubric or []
    for review in reviews:
        review.rubric_scores = [
            {"label": c.get("label") or c["key"], "score": (review.scores or {}).get(c["key"])} for c in rubric
        ]
    default_grant = services.expected_grant(application)
    context = {
        **_application_facts(application),
        "reviews": reviews,
        "reviews_done": done,
        "reviews_needed": needed,
        "reviews_missing": max(0, needed - done),
        "reviewer_options": options,
        "unavailable": [o for o in options if o.problem],
        "can_assign": can_assign,
        "can_decide": can_decide,
        "can_approve": can_decide and (application.call.track != Track.PEER_REVIEW or done >= needed),
        "can_request_changes": access.can_request_changes(user, application),
        "on_team": hub_access.is_hub_staff(user, application.hub) and not access.is_decider(user, application),
        "assign_form": forms.get("assign_form") or AssignReviewerForm(options=options),
        "approve_form": forms.get("approve_form") or ApproveForm(default_millicredits=default_grant),
        "reject_form": forms.get("reject_form") or ReasonForm(prefix="reject"),
        "changes_form": forms.get("changes_form") or ReasonForm(prefix="changes"),
        "default_grant": credits(default_grant),
        "granted_credits": credits(application.granted_millicredits or 0),
        "trail": queue.application_trail(application, reviews),
        "allocation": getattr(application, "allocation", None) if application.status == "approved" else None,
    }
    return render(request, "compute/staff/application.html", context, status=status)


@login_required
def staff_application(request, pk):
    application = access.application_for_staff(request.user, pk, extend=queue.with_latest_screening)
    return _render_staff_application(request, application)


def _back_to(application):
    return redirect("compute:staff_application", pk=application.pk)


@login_required
@require_POST
def staff_application_assign(request, pk):
    application = access.application_for_staff(request.user, pk)
    if "auto" in request.POST:
        try:
            reviews = services.reviews_auto_assign(application=application, acting_user=request.user)
        except REFUSED as exc:
            messages.error(request, _error_text(exc))
        else:
            if reviews:
                names = ", ".join(r.reviewer.display_name for r in reviews)
                messages.success(request, f"Assigned {names}.")
            else:
                messages.info(request, "This application already has the reviewers it needs.")
        return _back_to(application)
    options = queue.reviewer_options(application)
    form = AssignReviewerForm(request.POST, options=options)
    if form.is_valid():
        reviewer = User.objects.get(pk=form.cleaned_data["reviewer"])
        try:
            services.review_assign(application=application, reviewer=reviewer, acting_user=request.user)
        except ValidationError as exc:
            add_service_errors(form, exc)
        except (InvalidTransition, PermissionDenied) as exc:
            messages.error(request, _error_text(exc))
            return _back_to(application)
        else:
            messages.success(request, f"{reviewer.display_name} is asked to review “{application}”.")
            return _back_to(application)
    return _render_staff_application(request, application, assign_form=form, status=400)


DECISIONS = {
    "reject": (services.application_reject, "reject_form", "reject", "rejected"),
    "request_changes": (services.application_request_changes, "changes_form", "changes", "sent back for changes"),
}


@login_required
@require_POST
def staff_application_decide(request, pk, action):
    application = access.application_for_staff(request.user, pk)
    if action == "approve":
        form = ApproveForm(request.POST)
        if form.is_valid():
            try:
                services.application_approve(
                    application=application,
                    acting_user=request.user,
                    amount_millicredits=form.amount_millicredits(),
                    reason=form.cleaned_data["reason"].strip(),
                )
            except ValidationError as exc:
                add_service_errors(form, exc, rename={"amount_millicredits": "amount"})
            except (InvalidTransition, PermissionDenied) as exc:
                messages.error(request, _error_text(exc))
                return _back_to(application)
            else:
                messages.success(
                    request,
                    f"“{application}” is approved: {credits(application.granted_millicredits)} credits granted.",
                )
                return _back_to(application)
        return _render_staff_application(request, application, approve_form=form, status=400)
    if action not in DECISIONS:
        raise Http404("No such decision.")
    service, form_name, prefix, verb = DECISIONS[action]
    form = ReasonForm(request.POST, prefix=prefix)
    if form.is_valid():
        try:
            service(application=application, acting_user=request.user, reason=form.cleaned_data["reason"])
        except ValidationError as exc:
            add_service_errors(form, exc)
        except (InvalidTransition, PermissionDenied) as exc:
            messages.error(request, _error_text(exc))
            return _back_to(application)
        else:
            messages.success(request, f"“{application}” {verb}; the applicants are told why.")
            return _back_to(application)
    return _render_staff_application(request, application, status=400, **{form_name: form})


# --- Admin pages (wired in compute/admin.py) -------------------------------------------------


def admin_reason_action(modeladmin, request, queryset, *, service, verb, title):
    """A bulk action that first asks for a reason on an intermediate page (as Django's "delete
    selected" asks for a confirmation), then calls ``service`` per row through
    ``run_service_action``. Returning ``None`` sends the admin back to the changelist."""
    from django.contrib.admin import helpers
    from django.template.response import TemplateResponse

    from gigafactory.admin import run_service_action

    from .staff_forms import AdminReasonForm

    if "apply" in request.POST:
        form = AdminReasonForm(request.POST)
        if form.is_valid():
            run_service_action(modeladmin, request, queryset, service, verb, reason=form.cleaned_data["reason"])
            return None
    else:
        form = AdminReasonForm()
    applications = list(queryset.select_related("project", "call", "applicant"))
    for application in applications:
        application.requested_credits = credits(application.requested_millicredits)
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "subtitle": None,
        "opts": modeladmin.model._meta,
        "applications": applications,
        "form": form,
        "action": request.POST.get("action", ""),
        "select_across": request.POST.get("select_across", "0"),
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "media": modeladmin.media,
    }
    request.current_app = modeladmin.admin_site.name
    return TemplateResponse(request, "compute/staff/admin_reason.html", context)


def admin_slurm_import(modeladmin, request):
    """Upload a Slurm ``sacct --parsable2`` file; ``compute.slurm.import_sacct`` records the
    usage and this page shows its report (created, duplicates, skipped and unmapped rows)."""
    from django.template.response import TemplateResponse

    from .models import ComputeProvider
    from .slurm import SacctFormatError, import_sacct
    from .staff_forms import SlurmImportForm

    if not modeladmin.has_module_permission(request):
        raise PermissionDenied
    providers = hub_access.scope_to_staff_hubs(
        ComputeProvider.objects.select_related("hub").order_by("hub__name", "name"), request.user
    )
    form = SlurmImportForm(request.POST or None, request.FILES or None, providers=providers)
    report = None
    if request.method == "POST" and form.is_valid():
        provider = form.cleaned_data["provider"]
        try:
            report = import_sacct(
                form.cleaned_data["file"],
                provider=provider,
                dry_run=form.cleaned_data["dry_run"],
                acting_label=f"Slurm import by {request.user.email}",
            )
        except (SacctFormatError, UnicodeDecodeError) as exc:
            form.add_error("file", str(exc))
        except ValidationError as exc:
            form.add_error(None, exc.messages)
        else:
            level = messages.WARNING if report.unmapped else messages.SUCCESS
            modeladmin.message_user(request, f"{provider}: {report.summary()}", level)
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": "Import Slurm usage (sacct)",
        "subtitle": None,
        "opts": modeladmin.model._meta,
        "form": form,
        "report": report,
        "media": modeladmin.media + form.media,
    }
    request.current_app = modeladmin.admin_site.name
    return TemplateResponse(request, "compute/staff/admin_slurm_import.html", context)
