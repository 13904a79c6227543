"""Pages: AI systems, the classification wizard, the checklist, evidence, the ethics board, the dossier.

Objects come from ``compliance.access``; every write calls a service; forms post/redirect/get.
Nothing on these pages is legal advice, and the pages say so.
"""

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from gigafactory.audit import audit_trail_for
from gigafactory.errors import InvalidTransition
from gigafactory.forms import add_service_errors
from hubs import access as hub_access
from hubs.models import Hub, Sector, User

from . import access, dossier, engine, selectors, services
from .dossier import template_exists
from .forms import (
    BoardMemberForm,
    CommentForm,
    DecisionForm,
    EvidenceFileForm,
    EvidenceLinkForm,
    ItemForm,
    LinkForm,
    ReviewRequestForm,
    SystemForm,
)
from .models import (
    AssessmentStatus,
    BoardMember,
    BoardReview,
    EvidenceKind,
    ItemSection,
    ReviewStatus,
    RiskClass,
)

PAGE_SIZE = 20
ASSURANCE_PANEL = "assurance/_system_panel.html"


def _page(request, qs, size=PAGE_SIZE):
    return Paginator(qs, size).get_page(request.GET.get("page"))


# --- Systems ------------------------------------------------------------------------------------


@login_required
@require_GET
def system_list(request):
    qs = access.systems_visible_to(request.user)
    filters = {k: request.GET.get(k, "").strip() for k in ("q", "risk_class", "hub", "sector")}
    if filters["q"]:
        qs = qs.filter(Q(name__icontains=filters["q"]) | Q(intended_purpose__icontains=filters["q"]))
    if filters["risk_class"] and (filters["risk_class"] in RiskClass.values or filters["risk_class"] == "unassessed"):
        qs = qs.filter(risk_class="" if filters["risk_class"] == "unassessed" else filters["risk_class"])
    if filters["hub"]:
        qs = qs.filter(hub__slug=filters["hub"])
    if filters["sector"] in Sector.values:
        qs = qs.filter(sector=filters["sector"])
    page = _page(request, selectors.systems_list(qs).order_by("name", "pk"))
    hubs = Hub.objects.filter(pk__in=access.systems_visible_to(request.user).values("hub_id")).order_by("name")
    board_pending = access.reviews_awaiting(request.user)
    return render(
        request,
        "compliance/system_list.html",
        {
            "page": page,
            "filters": filters,
            "is_filtered": any(filters.values()),
            "classes": [("unassessed", "Not assessed yet"), *[c for c in RiskClass.choices if c[0]]],
            "sectors": Sector.choices,
            "hubs": hubs,
            "can_register": bool(access.registrable_hub_ids(request.user)),
            "board_pending": board_pending.count(),
        },
    )


def _system_form_hubs(user):
    return Hub.objects.filter(pk__in=access.registrable_hub_ids(user)).order_by("name")


@login_required
def system_create(request):
    hubs = _system_form_hubs(request.user)
    if not hubs.exists():
        messages.error(request, "Join a hub first: AI systems are registered at a hub you are a member of.")
        return redirect("hubs:directory")
    initial = {}
    profile = getattr(request.user, "profile", None)
    if profile is not None and profile.organisation_id:
        initial["organisation"] = profile.organisation_id
    if hubs.count() == 1:
        initial["hub"] = hubs.first().pk
    form = SystemForm(request.POST or None, hubs=hubs, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = {k: v for k, v in form.cleaned_data.items() if k != "hub"}
        try:
            system = services.system_create(hub=form.cleaned_data["hub"], acting_user=request.user, **data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"'{system}' is registered. Next: classify it under the AI Act.")
            return redirect(system.get_absolute_url())
    return render(request, "compliance/system_form.html", {"form": form, "creating": True})


@login_required
def system_edit(request, pk):
    system = access.system_for(request.user, pk)
    if not access.can_edit(request.user, system):
        raise PermissionDenied("You cannot change this AI system.")
    form = SystemForm(request.POST or None, instance=system, editing=True)
    if request.method == "POST" and form.is_valid():
        try:
            services.system_update(system=system, acting_user=request.user, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, "Saved.")
            return redirect(system.get_absolute_url())
    system.refresh_from_db()
    return render(request, "compliance/system_form.html", {"form": form, "system": system, "creating": False})


@login_required
def system_links(request, pk):
    system = access.system_for(request.user, pk)
    if not access.can_edit(request.user, system):
        raise PermissionDenied("You cannot change this AI system.")
    choices = services.link_choices(request.user, system)
    form = LinkForm(
        request.POST or None,
        projects=choices["projects"],
        applications=choices["applications"],
        pilots=choices["pilots"],
        initial={
            "projects": system.projects.all(),
            "applications": system.applications.all(),
            "pilots": system.pilots.all(),
        },
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.system_link(system=system, acting_user=request.user, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, "Links saved.")
            return redirect(system.get_absolute_url())
    return render(request, "compliance/system_links.html", {"form": form, "system": system})


def _system_context(request, system):
    latest = selectors.latest_assessment(system)
    items = list(selectors.checklist(system))
    sections = []
    for key, label in ItemSection.choices:
        rows = [i for i in items if i.section == key]
        if rows:
            sections.append({"key": key, "label": label, "items": rows})
    progress = selectors.progress(system)
    return {
        "system": system,
        "latest": latest,
        "draft": selectors.draft_assessment(system),
        "sections": sections,
        "progress": progress,
        "signoff": selectors.valid_signoff(system),
        "pending": selectors.pending_review(system),
        "decisions": BoardReview.objects.filter(system=system)
        .exclude(status=ReviewStatus.PENDING)
        .select_related("decided_by", "requested_by", "assessment")[:10],
        "board": selectors.board_members(system.hub),
        "can_edit": access.can_edit(request.user, system),
        "can_decide": access.can_decide(request.user, system),
        "gate_problem": selectors.gate_problem(system) if system.applications.exists() else None,
        "projects": system.projects.select_related("hub"),
        "applications": system.applications.select_related("call"),
        "assurance_panel": ASSURANCE_PANEL if template_exists(ASSURANCE_PANEL) else "",
        "today": timezone.localdate(),
    }


@login_required
@require_GET
def system_detail(request, pk):
    system = access.system_for(request.user, pk)
    context = _system_context(request, system)
    context["request_form"] = ReviewRequestForm()
    context["decision_form"] = DecisionForm()
    return render(request, "compliance/system_detail.html", context)


# --- Classification wizard ----------------------------------------------------------------------------


@login_required
@require_POST
def assessment_start(request, pk):
    system = access.system_for(request.user, pk)
    draft = services.assessment_start(system=system, acting_user=request.user)
    return redirect("compliance:wizard", draft.pk)


@login_required
@vary_on_headers("HX-Request")
def wizard(request, pk):
    assessment = access.assessment_for(request.user, pk)
    if assessment.status != AssessmentStatus.DRAFT:
        return redirect(assessment.get_absolute_url())
    if not access.can_edit(request.user, assessment.system):
        raise PermissionDenied("You cannot classify this system.")
    errors = {}
    if request.method == "POST":
        answers = {k: v for k, v in request.POST.items() if k in engine.load(assessment.questionnaire_version).by_key}
        try:
            assessment = services.assessment_answer(assessment=assessment, acting_user=request.user, answers=answers)
        except ValidationError as exc:
            errors = {k: " ".join(v) for k, v in exc.message_dict.items()}
        except InvalidTransition as exc:
            messages.error(request, exc.message)
            return redirect(assessment.get_absolute_url())
        if not request.htmx:
            if errors:
                for key, error in errors.items():
                    messages.error(request, f"{key}: {error}")
            return redirect("compliance:wizard", assessment.pk)
    context = selectors.wizard_state(assessment) | {"errors": errors, "saved_at": timezone.localtime()}
    # An answer to a question not on screen (a stale tab, a script) still gets its message.
    shown = {item["q"].key for s in context["sections"] if s["visible"] for item in s["questions"]}
    by_key = context["questionnaire"].by_key
    context["other_errors"] = [
        (by_key[key].text if key in by_key else key, message) for key, message in errors.items() if key not in shown
    ]
    template = "compliance/wizard.html#body" if request.htmx else "compliance/wizard.html"
    response = render(request, template, context)
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def assessment_submit(request, pk):
    assessment = access.assessment_for(request.user, pk)
    try:
        assessment = services.assessment_submit(assessment=assessment, acting_user=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(m for ms in exc.message_dict.values() for m in ms))
        return redirect("compliance:wizard", assessment.pk)
    except InvalidTransition as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Classification submitted; the checklist is up to date.")
    return redirect(assessment.get_absolute_url())


@login_required
@require_GET
def assessment_result(request, pk):
    assessment = access.assessment_for(request.user, pk)
    if assessment.status == AssessmentStatus.DRAFT:
        return redirect("compliance:wizard", assessment.pk)
    q = engine.load(assessment.questionnaire_version)
    outcome = engine.classify(assessment.answers, assessment.questionnaire_version)
    answered = [(q.by_key[k], q.by_key[k].display(assessment.answers.get(k))) for k in outcome.asked]
    return render(
        request,
        "compliance/assessment_result.html",
        {
            "assessment": assessment,
            "system": assessment.system,
            "questionnaire": q,
            "answered": answered,
            "point": engine.point_label(assessment.annex_iii_point),
            "is_latest": selectors.latest_assessment(assessment.system) == assessment,
            "can_edit": access.can_edit(request.user, assessment.system),
        },
    )


# --- Checklist items ------------------------------------------------------------------------------------


def _people(system):
    return (
        User.objects.filter(
            Q(pk=system.owner_id)
            | Q(project_memberships__project__ai_systems=system)
            | Q(board_seats__hub=system.hub, board_seats__active=True)
        )
        .distinct()
        .order_by("name", "email")
    )


@login_required
def item_detail(request, pk):
    item = access.item_for(request.user, pk)
    system = item.system
    can_edit = access.can_edit(request.user, system) and item.obsolete_at is None
    item_form = ItemForm(
        initial={"status": item.status, "justification": item.justification, "owner": item.owner_id},
        people=_people(system),
    )
    file_form, link_form, comment_form = (
        EvidenceFileForm(initial={"evidence_type": (item.evidence_types or ["DOC"])[0]}),
        EvidenceLinkForm(initial={"evidence_type": (item.evidence_types or ["DOC"])[0]}),
        CommentForm(),
    )
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "status":
                item_form = ItemForm(request.POST, people=_people(system))
                if item_form.is_valid():
                    services.item_update(item=item, acting_user=request.user, **item_form.cleaned_data)
                    messages.success(request, "Saved.")
                    return redirect(item.get_absolute_url())
            elif action == "file":
                file_form = EvidenceFileForm(request.POST, request.FILES)
                if file_form.is_valid():
                    services.evidence_file_add(
                        item=item,
                        acting_user=request.user,
                        uploaded=file_form.cleaned_data["file"],
                        label=file_form.cleaned_data["label"],
                        evidence_type=file_form.cleaned_data["evidence_type"],
                    )
                    messages.success(request, "File attached.")
                    return redirect(item.get_absolute_url())
            elif action == "link":
                link_form = EvidenceLinkForm(request.POST)
                if link_form.is_valid():
                    services.evidence_link_add(item=item, acting_user=request.user, **link_form.cleaned_data)
                    messages.success(request, "Link attached.")
                    return redirect(item.get_absolute_url())
            elif action == "comment":
                comment_form = CommentForm(request.POST)
                if comment_form.is_valid():
                    services.item_comment_add(
                        item=item, acting_user=request.user, body=comment_form.cleaned_data["body"]
                    )
                    return redirect(item.get_absolute_url() + "#comments")
            else:
                raise Http404("Unknown action.")
        except ValidationError as exc:
            target = {"status": item_form, "file": file_form, "link": link_form, "comment": comment_form}[action]
            add_service_errors(target, exc)
        except InvalidTransition as exc:
            messages.error(request, exc.message)
    return render(
        request,
        "compliance/item_detail.html",
        {
            "item": item,
            "system": system,
            "evidence": selectors.evidence_of(item),
            "comments": item.comments.select_related("author"),
            "item_form": item_form,
            "file_form": file_form,
            "link_form": link_form,
            "comment_form": comment_form,
            "can_edit": can_edit,
            "trail": audit_trail_for(item)[:20],
            "today": timezone.localdate(),
        },
    )


@login_required
@require_POST
def evidence_remove(request, pk):
    evidence = access.evidence_for(request.user, pk)
    item = evidence.item
    services.evidence_remove(evidence=evidence, acting_user=request.user)
    messages.success(request, f"Removed '{evidence.label}'.")
    return redirect(item.get_absolute_url())


@login_required
@require_GET
def evidence_download(request, pk):
    evidence = access.evidence_for(request.user, pk)
    if evidence.kind != EvidenceKind.FILE:
        return redirect(evidence.url)
    try:
        handle = evidence.file.open("rb")
    except FileNotFoundError:
        raise Http404("The file is missing from storage.") from None
    response = FileResponse(handle, as_attachment=True, filename=evidence.file.name.rsplit("/", 1)[-1])
    response["Content-Type"] = evidence.content_type or "application/octet-stream"
    response["X-Content-Type-Options"] = "nosniff"
    return response


# --- Ethics board ----------------------------------------------------------------------------------------


@login_required
@require_POST
def review_request(request, pk):
    system = access.system_for(request.user, pk)
    form = ReviewRequestForm(request.POST)
    form.is_valid()
    try:
        services.board_review_request(system=system, acting_user=request.user, note=form.cleaned_data.get("note", ""))
    except InvalidTransition as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"The {system.hub} ethics board has been asked to review '{system}'.")
    return redirect(system.get_absolute_url() + "#board")


@login_required
@require_POST
def review_withdraw(request, pk):
    review = access.review_for(request.user, pk)
    try:
        services.board_review_withdraw(review=review, acting_user=request.user)
    except InvalidTransition as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Review request withdrawn.")
    return redirect(review.system.get_absolute_url() + "#board")


@login_required
@require_POST
def review_decide(request, pk):
    review = access.review_for(request.user, pk)
    form = DecisionForm(request.POST)
    if form.is_valid():
        try:
            services.board_review_decide(review=review, acting_user=request.user, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        except InvalidTransition as exc:
            messages.error(request, exc.message)
            return redirect(review.system.get_absolute_url() + "#board")
        else:
            messages.success(
                request, f"Decision recorded: {dict(ReviewStatus.choices)[form.cleaned_data['decision']]}."
            )
            return redirect(review.system.get_absolute_url() + "#board")
    context = _system_context(request, review.system)
    context.update(request_form=ReviewRequestForm(), decision_form=form)
    return render(request, "compliance/system_detail.html", context, status=400)


@login_required
def board(request):
    """The ethics board page: reviews waiting for the user's boards; staff name the members."""
    board_ids = access.board_hub_ids(request.user)
    staff_ids = hub_access.staff_hub_ids(request.user)
    staff_hubs = Hub.objects.all() if staff_ids is None else Hub.objects.filter(pk__in=staff_ids)
    staff_hubs = staff_hubs.order_by("name")
    form = BoardMemberForm(request.POST or None, hubs=staff_hubs)
    if request.method == "POST" and form.is_valid():
        person = User.objects.filter(email__iexact=form.cleaned_data["email"]).first()
        if person is None:
            form.add_error("email", "No one has an account with this e-mail.")
        else:
            try:
                services.board_member_add(
                    hub=form.cleaned_data["hub"],
                    user=person,
                    acting_user=request.user,
                    title=form.cleaned_data["title"],
                )
            except ValidationError as exc:
                form.add_error("email", exc.messages)
            else:
                messages.success(request, f"{person} is now on the {form.cleaned_data['hub']} ethics board.")
                return redirect("compliance:board")
    pending = (
        BoardReview.objects.filter(status=ReviewStatus.PENDING, system__hub_id__in=board_ids)
        .select_related("system", "system__hub", "requested_by", "assessment")
        .order_by("requested_at")
    )
    decided = BoardReview.objects.exclude(status=ReviewStatus.PENDING).select_related(
        "system", "system__hub", "decided_by"
    )
    if staff_ids is not None:
        decided = decided.filter(system__hub_id__in=board_ids | staff_ids)
    members = BoardMember.objects.filter(hub__in=staff_hubs, active=True).select_related("hub", "user")
    return render(
        request,
        "compliance/board.html",
        {
            "pending": pending,
            "page": _page(request, decided.order_by("-decided_at", "-id")),
            "members": members,
            "form": form,
            "staff_hubs": staff_hubs,
            "is_board": bool(board_ids),
            "filters": {},
        },
    )


@login_required
@require_POST
def board_member_remove(request, pk):
    member = access.board_member_for(request.user, pk)
    services.board_member_remove(member=member, acting_user=request.user)
    messages.success(request, f"{member.user} is no longer on the {member.hub} ethics board.")
    return redirect("compliance:board")


# --- Dossier ----------------------------------------------------------------------------------------------


@login_required
@require_GET
def dossier_page(request, pk):
    system = access.system_for(request.user, pk)
    return render(request, "compliance/dossier.html", dossier.context(system))


@login_required
@require_GET
def dossier_download(request, pk, fmt):
    system = access.system_for(request.user, pk)
    stamp = timezone.localdate().isoformat()
    slug = f"dossier-{system.pk}-{stamp}"
    if fmt == "md":
        response = HttpResponse(dossier.markdown(system), content_type="text/markdown; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{slug}.md"'
    elif fmt == "json":
        body = json.dumps(dossier.as_dict(system), indent=2, ensure_ascii=False, default=str)
        response = HttpResponse(body, content_type="application/json; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{slug}.json"'
    else:
        raise Http404("Unknown format.")
    return response
