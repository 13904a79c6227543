"""Reads for the review pages: hub staff's application queue, a staff member's view of one
application, and a reviewer's list of reviews.

Everything starts from ``compute.access``; counts shown per row are correlated subqueries
annotated on the page's rows (evaluated for the 25 rows of a page only), so a page costs the
same number of queries whatever the number of applications. The queue's filters and its
"oldest first" order follow the ``app_queue_idx`` index on ``(hub, status, submitted_at)``.
"""

from dataclasses import dataclass
from datetime import date, timedelta

from django.contrib.contenttypes.models import ContentType
from django.db.models import (
    Aggregate,
    Case,
    Count,
    F,
    IntegerField,
    JSONField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce, JSONObject
from django.utils import timezone

from gigafactory.models import AuditEvent
from hubs.models import User

from . import access, services
from .models import (
    AppStatus,
    Call,
    Review,
    ReviewStatus,
    ScreeningResult,
    Track,
    credits,
)

WAITING = "waiting"  # applications waiting for staff: reviewers to assign or a decision to take
OPEN = "open"
ALL = "all"
STATUS_CHOICES = [
    (WAITING, "Waiting for staff"),
    (OPEN, "All open"),
    *((value, label) for value, label in AppStatus.choices if value != AppStatus.DRAFT),
    (ALL, "All (except drafts)"),
]
AGE_CHOICES = [("", "Any age"), ("2", "Waiting > 2 days"), ("7", "Waiting > 7 days"), ("14", "Waiting > 14 days")]
SORT_CHOICES = [("oldest", "Oldest first"), ("newest", "Newest first")]


def _status_filter(status: str) -> Q:
    if status == WAITING:
        return Q(status=AppStatus.IN_REVIEW)
    if status == OPEN:
        return Q(status__in=[s for s in access.OPEN_STATUSES if s != AppStatus.DRAFT])
    if status in AppStatus.values:
        return Q(status=status)
    return Q()


def _count(qs: QuerySet, outer: str = "application") -> Coalesce:
    """COUNT(*) of ``qs`` (filtered on ``OuterRef``) as a scalar subquery, 0 when empty."""
    counted = qs.order_by().values(outer).annotate(n=Count("pk")).values("n")[:1]
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def with_queue_counts(qs: QuerySet) -> QuerySet:
    """Annotate ``reviews_done`` (submitted), ``reviews_open`` (assigned, not yet submitted) and
    ``screening_failures`` (failed checks of the latest screening round)."""
    reviews = Review.objects.filter(application=OuterRef("pk"))
    return qs.annotate(
        reviews_done=_count(reviews.filter(status=ReviewStatus.SUBMITTED)),
        reviews_open=_count(reviews.filter(status=ReviewStatus.ASSIGNED)),
        screening_failures=_count(
            ScreeningResult.objects.filter(application=OuterRef("pk"), round=OuterRef("screening_round"), passed=False)
        ),
    )


def queue_base(user) -> QuerySet:
    """Applications of the hubs ``user`` runs; drafts are the applicants' own business."""
    return access.applications_for_staff(user).exclude(status=AppStatus.DRAFT)


def waiting_count(user) -> int:
    return queue_base(user).filter(_status_filter(WAITING)).count()


def staff_queue(
    user,
    *,
    hub: str = "",
    call: int | None = None,
    track: str = "",
    status: str = WAITING,
    age: int | None = None,
    q: str = "",
    sort: str = "oldest",
    now=None,
) -> QuerySet:
    """The queue rows for ``user``, filtered, with their per-row counts; oldest submission first
    (or newest with ``sort="newest"``)."""
    qs = queue_base(user).filter(_status_filter(status))
    if hub:
        qs = qs.filter(hub__slug=hub)
    if call:
        qs = qs.filter(call_id=call)
    if track:
        qs = qs.filter(call__track=track)
    if age:
        qs = qs.filter(submitted_at__lte=(now or timezone.now()) - timedelta(days=age))
    if q:
        qs = qs.filter(Q(title__icontains=q) | Q(applicant__email__icontains=q) | Q(project__title__icontains=q))
    qs = with_queue_counts(qs.select_related("call", "project", "applicant", "hub"))
    if sort == "newest":
        return qs.order_by(F("submitted_at").desc(nulls_last=True), "-pk")
    return qs.order_by(F("submitted_at").asc(nulls_last=True), "pk")


def queue_calls(user) -> list[Call]:
    """Calls of the hubs ``user`` runs (with their hub), for the queue's filters."""
    ids = access.staff_hub_ids(user)
    qs = Call.objects.select_related("hub").only("pk", "title", "track", "hub__slug", "hub__name")
    if ids is not None:
        qs = qs.filter(hub_id__in=ids)
    return list(qs.order_by("hub__name", "title", "pk"))


# --- One application, as staff see it ------------------------------------------------------


@dataclass
class ReviewerOption:
    user: User
    load: int = 0  # reviews assigned and not yet done on open applications
    problem: str = ""  # why this person cannot be assigned ("" = eligible)


class _JSONArrayAgg(Aggregate):
    """The group's values as one JSON array: PostgreSQL's ``jsonb_agg`` (jsonb, which Django's
    JSONField decodes; plain json comes back already decoded), SQLite's ``json_group_array``."""

    function = "JSONB_AGG"
    output_field = JSONField()

    def as_sqlite(self, compiler, connection, **extra):
        return super().as_sql(compiler, connection, function="JSON_GROUP_ARRAY", **extra)


SCREENING_FIELDS = ("id", "round", "check_key", "label", "passed", "reason")


def with_latest_screening(applications: QuerySet) -> QuerySet:
    """Applications with their latest screening round's results as one JSON column
    (``latest_screening`` turns it back into results): the staff page reads them with the
    application instead of in a query of their own."""
    rows = (
        ScreeningResult.objects.filter(application=OuterRef("pk"), round=OuterRef("screening_round"))
        .order_by()
        .values("application")
        .annotate(rows=_JSONArrayAgg(JSONObject(**{f: f for f in SCREENING_FIELDS})))
        .values("rows")
    )
    return applications.annotate(screening_json=Subquery(rows, output_field=JSONField()))


def latest_screening(application) -> list[ScreeningResult]:
    """The results of the application's latest screening round, in the order they were recorded."""
    if not application.screening_round:
        return []
    if "screening_json" in application.__dict__:  # read with the application (with_latest_screening)
        rows = application.screening_json or []
        results = [ScreeningResult(application=application, **{**row, "passed": bool(row["passed"])}) for row in rows]
        return sorted(results, key=lambda r: r.pk)
    return list(ScreeningResult.objects.filter(application=application, round=application.screening_round))


def resource_rows(application) -> list:
    rows = list(application.resource_requests.select_related("resource", "resource__provider"))
    for row in rows:
        row.cost = row.gpu_hours * row.resource.rate_millicredits
        row.cost_credits = credits(row.cost)
    return rows


def reviews_of_application(application) -> list[Review]:
    return list(application.reviews.select_related("reviewer", "reviewer__profile__organisation"))


def reviewer_options(application) -> list[ReviewerOption]:
    """Every reviewer of the application's hub: the eligible ones first (least loaded first, as
    ``services.eligible_reviewers`` orders them), then those who cannot be assigned, with why.

    One query: ``services.reviewer_candidates`` reads the flags ``eligible_reviewers`` filters
    on. The service stays the guard (``review_assign`` checks again); this only explains.
    """
    candidates = list(services.reviewer_candidates(application).select_related("profile__organisation"))
    eligible, others = [], []
    for user in candidates:
        if user.on_team:
            problem = "on the project's team (conflict of interest)"
        elif user.review_status is not None:
            problem = f"already {ReviewStatus(user.review_status).label.lower()}"
        elif user.same_organisation:
            problem = (
                f"belongs to {user.profile.organisation}, as the applicant or the project does (conflict of interest)"
            )
        else:
            eligible.append(ReviewerOption(user=user, load=user.load))
            continue
        others.append(ReviewerOption(user=user, problem=problem))
    others.sort(key=lambda o: (o.user.name, o.user.email))
    return eligible + others


TRAIL_LABELS = {
    "application.created": "Draft created",
    "application.submit": "Submitted",
    "application.screening_started": "Screening started",
    "application.send_to_review": "Sent to staff",
    "application.request_changes": "Changes requested",
    "application.approve": "Approved",
    "application.reject": "Rejected",
    "application.withdraw": "Withdrawn",
    "review.assigned": "Reviewer assigned",
    "review.submitted": "Review submitted",
    "review.declined": "Review declined",
}


@dataclass
class TrailEntry:
    label: str
    at: object
    who: str
    reason: str = ""


def application_trail(application, reviews: list[Review], limit: int = 100) -> list[TrailEntry]:
    """The audit trail of the application and of its reviews, newest first, in words."""
    review_ct = ContentType.objects.get_for_model(Review)
    events = (
        AuditEvent.objects.filter(
            Q(content_type=ContentType.objects.get_for_model(application), object_id=str(application.pk))
            | Q(content_type=review_ct, object_id__in=[str(r.pk) for r in reviews])
        )
        .select_related("actor")
        .order_by("-created_at", "-id")[:limit]
    )
    reviewers = {str(r.pk): r.reviewer.display_name for r in reviews}
    entries = []
    for event in events:
        label = TRAIL_LABELS.get(event.action) or event.action.split(".")[-1].replace("_", " ").capitalize()
        if event.content_type_id == review_ct.pk:
            label = f"{label}: {reviewers.get(event.object_id, '')}".rstrip(": ")
        who = event.actor.display_name if event.actor else (event.actor_label or "system")
        entries.append(TrailEntry(label, event.created_at, who, str((event.after or {}).get("reason") or "")))
    return entries


# --- Reviewers ------------------------------------------------------------------------------


def next_cutoff(call, today: date | None = None) -> date | None:
    """The call's next peer-review cut-off date (today or later), if any."""
    today = today or timezone.localdate()
    upcoming = []
    for raw in call.review_cutoffs or []:
        try:
            day = date.fromisoformat(str(raw)[:10])
        except ValueError:
            continue
        if day >= today:
            upcoming.append(day)
    return min(upcoming, default=None)


def reviews_for_reviewer(user) -> QuerySet:
    """The reviews assigned to ``user``: to do first (oldest assignment first), then done ones
    (latest first)."""
    order = Case(
        When(status=ReviewStatus.ASSIGNED, then=Value(0)),
        When(status=ReviewStatus.SUBMITTED, then=Value(1)),
        default=Value(2),
        output_field=IntegerField(),
    )
    return (
        access.reviews_assigned_to(user)
        .select_related("application", "application__call", "application__call__hub", "application__project")
        .annotate(todo_rank=order)
        .order_by(
            "todo_rank",
            Case(When(status=ReviewStatus.ASSIGNED, then=F("assigned_at"))),
            F("submitted_at").desc(nulls_last=True),
            "-assigned_at",
            "-pk",
        )
    )


def reviews_needed(application) -> int:
    return application.call.min_reviewers if application.call.track == Track.PEER_REVIEW else 0
