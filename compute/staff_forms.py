"""Forms of the review pages: the reviewer's rubric, the staff queue's filters and bulk
actions, the staff decision forms and the admin's intermediate pages.

Forms parse and present; the services decide what is valid (their ``ValidationError`` keys
are mapped back onto these fields by ``gigafactory.forms.add_service_errors``).
"""

from decimal import Decimal

from django import forms

from . import queue
from .models import MILLI, ComputeProvider, Recommendation, Track, credits

SCORE_CHOICES = [
    ("1", "1 (weak)"),
    ("2", "2 (fair)"),
    ("3", "3 (good)"),
    ("4", "4 (very good)"),
    ("5", "5 (excellent)"),
]


# --- Reviewer -------------------------------------------------------------------------------


class ReviewForm(forms.Form):
    """One radio group per criterion of the call's rubric (``score_<key>``), the comments, the
    recommendation and the conflict-of-interest declaration.

    No field is required here: ``services.review_submit`` checks completeness and its
    messages appear next to the fields.
    """

    comment_for_applicant = forms.CharField(
        label="Comment for the applicant",
        required=False,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text="The applicant reads this with the decision.",
    )
    private_comment = forms.CharField(
        label="Private comment for hub staff",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Only staff of the hub see this.",
    )
    recommendation = forms.ChoiceField(
        label="Your recommendation", required=False, choices=Recommendation.choices, widget=forms.RadioSelect
    )
    no_conflict_declared = forms.BooleanField(
        label="I have no conflict of interest",
        required=False,
        help_text="I am not on the project's team, not from the applicant's or the project's organisation, "
        "and have no other interest in the decision.",
    )

    def __init__(self, *args, rubric, **kwargs):
        super().__init__(*args, **kwargs)
        self.rubric = list(rubric or [])
        for criterion in self.rubric:
            self.fields[f"score_{criterion['key']}"] = forms.ChoiceField(
                label=criterion.get("label") or criterion["key"],
                required=False,
                choices=SCORE_CHOICES,
                widget=forms.RadioSelect,
            )
        # Scores first, in rubric order, then the rest.
        order = [f"score_{c['key']}" for c in self.rubric]
        self.order_fields(order)

    def score_fields(self):
        return [self[f"score_{c['key']}"] for c in self.rubric]

    def other_fields(self):
        return [self[name] for name in ("comment_for_applicant", "private_comment")]

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        return {
            "scores": {c["key"]: data.get(f"score_{c['key']}") or None for c in self.rubric},
            "comment_for_applicant": data.get("comment_for_applicant", ""),
            "private_comment": data.get("private_comment", ""),
            "recommendation": data.get("recommendation") or "",
            "no_conflict_declared": bool(data.get("no_conflict_declared")),
        }


class DeclineForm(forms.Form):
    reason = forms.CharField(
        label="Why do you decline?",
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
        help_text="For example: I co-authored with the applicant last year. Only hub staff read this.",
        error_messages={"required": "Say briefly why you decline (e.g. the conflict of interest)."},
    )


# --- Staff queue ----------------------------------------------------------------------------


class QueueFilterForm(forms.Form):
    """Filters of the staff queue. A bad value falls back to "no filter" instead of an error."""

    q = forms.CharField(label="Search", required=False, max_length=100)
    hub = forms.ChoiceField(label="Hub", required=False)
    call = forms.ChoiceField(label="Call", required=False)
    track = forms.ChoiceField(label="Track", required=False, choices=[("", "All tracks"), *Track.choices])
    status = forms.ChoiceField(label="Status", required=False, choices=queue.STATUS_CHOICES)
    age = forms.ChoiceField(label="Age", required=False, choices=queue.AGE_CHOICES)
    sort = forms.ChoiceField(label="Sort", required=False, choices=queue.SORT_CHOICES)

    def __init__(self, *args, calls, **kwargs):
        super().__init__(*args, **kwargs)
        hubs = {}
        for call in calls:
            hubs.setdefault(call.hub.slug, call.hub.name)
        self.fields["hub"].choices = [("", "All my hubs"), *hubs.items()]
        self.fields["call"].choices = [
            ("", "All calls"),
            *((str(c.pk), f"{c.title} ({c.hub.name})" if len(hubs) > 1 else c.title) for c in calls),
        ]
        self.fields["q"].widget.input_type = "search"
        self.fields["q"].widget.attrs.update(
            {"placeholder": "Title, applicant e-mail or project", "autocomplete": "off"}
        )

    def filters(self) -> dict:
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        return {
            "q": (data.get("q") or "").strip(),
            "hub": data.get("hub") or "",
            "call": data.get("call") or "",
            "track": data.get("track") or "",
            "status": data.get("status") or queue.WAITING,
            "age": data.get("age") or "",
            "sort": data.get("sort") or "oldest",
        }


BULK_ACTIONS = [
    ("auto_assign", "Assign reviewers automatically"),
    ("approve", "Approve (full amount)"),
    ("reject", "Reject, with a reason"),
    ("request_changes", "Request changes, with a reason"),
]
NEEDS_REASON = {"reject", "request_changes"}


class BulkActionForm(forms.Form):
    action = forms.ChoiceField(label="Action", choices=BULK_ACTIONS)
    ids = forms.TypedMultipleChoiceField(coerce=int, error_messages={"required": "Select at least one application."})
    reason = forms.CharField(
        label="Reason for the applicants",
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Sent to every selected application's team with the decision.",
    )
    confirmed = forms.BooleanField(required=False, widget=forms.HiddenInput)
    next = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Any id is accepted here; the access layer keeps only the staff member's applications.
        raw = self.data.getlist("ids") if hasattr(self.data, "getlist") else self.data.get("ids", [])
        self.fields["ids"].choices = [(v, v) for v in raw if str(v).isdigit()]

    def clean(self):
        data = super().clean()
        if data.get("confirmed") and data.get("action") in NEEDS_REASON and not (data.get("reason") or "").strip():
            self.add_error("reason", "Give a reason: the applicants read it with the decision.")
        return data


# --- Staff: one application -----------------------------------------------------------------


class AssignReviewerForm(forms.Form):
    reviewer = forms.TypedChoiceField(label="Reviewer", coerce=int, empty_value=None)

    def __init__(self, *args, options, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reviewer"].choices = [
            ("", "Choose a reviewer"),
            *(
                (o.user.pk, f"{o.user.display_name} · {o.load} open review{'s' if o.load != 1 else ''}")
                for o in options
                if not o.problem
            ),
        ]


class ApproveForm(forms.Form):
    amount = forms.DecimalField(
        label="Grant (credits)",
        required=False,
        min_value=Decimal("0.001"),
        max_digits=15,
        decimal_places=3,
        help_text="Leave as it is to grant the request; lower it to grant less. One credit = one H100-class GPU-hour.",
    )
    reason = forms.CharField(
        label="Note for the applicant (optional)",
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args, default_millicredits=None, **kwargs):
        super().__init__(*args, **kwargs)
        if default_millicredits:
            self.fields["amount"].initial = credits(default_millicredits).replace(",", "")

    def amount_millicredits(self) -> int | None:
        amount = self.cleaned_data.get("amount")
        return None if amount is None else int(amount * MILLI)


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label="Reason for the applicant",
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": "Give a reason: the applicant reads it with the decision."},
    )


# --- Admin intermediate pages -----------------------------------------------------------------


class AdminReasonForm(forms.Form):
    reason = forms.CharField(
        label="Reason for the applicants",
        widget=forms.Textarea(attrs={"rows": 4, "cols": 80}),
        max_length=4000,
        help_text="Sent to every selected application's team.",
        error_messages={"required": "Give a reason: the applicants read it with the decision."},
    )


class SlurmImportForm(forms.Form):
    provider = forms.ModelChoiceField(
        queryset=ComputeProvider.objects.none(),
        help_text="The provider that ran the jobs; its resources' Slurm partitions and the hub's allocations' "
        "Slurm accounts map the rows.",
    )
    file = forms.FileField(label="sacct file", help_text="Output of sacct --parsable2 (JobID|User|Account|…).")
    dry_run = forms.BooleanField(label="Dry run: check the file, write nothing", required=False)

    def __init__(self, *args, providers, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["provider"].queryset = providers
