"""Forms of the applicant's pages: projects, team members, and the application form with its
per-resource rows.

The rows are not a Django formset: HTMX adds and removes them freely, so the page posts
three parallel lists (``row_key``, ``row_resource``, ``row_hours``), one entry per row in
the order shown. ``row_key`` is a short token that names the row's inputs and error slots.
"""

import re
import secrets
from dataclasses import dataclass, field

from django import forms

from hubs.models import Hub, Organisation

from .models import Application, DataSensitivity

MAX_GPU_HOURS = 10_000_000
MAX_ROWS = 50
_KEY_RE = re.compile(r"^[a-z0-9]{1,16}$")


def new_row_key() -> str:
    return "r" + secrets.token_hex(4)


# --- Projects -------------------------------------------------------------------------------


class ProjectForm(forms.Form):
    hub = forms.ModelChoiceField(
        queryset=Hub.objects.none(),
        empty_label=None,
        help_text="The hub the project belongs to; you must be an active member.",
    )
    title = forms.CharField(max_length=200, help_text="A short name the team and hub staff will recognise.")
    summary = forms.CharField(
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="What the team works on, in a few lines.",
    )
    organisation = forms.ModelChoiceField(
        queryset=Organisation.objects.order_by("name"),
        required=False,
        empty_label="None (use each applicant's own organisation)",
        help_text="The organisation the project applies for; some calls are open to certain kinds only.",
    )

    def __init__(self, *args, hubs=None, fixed_hub=None, **kwargs):
        super().__init__(*args, **kwargs)
        if fixed_hub is not None:
            del self.fields["hub"]
        else:
            self.fields["hub"].queryset = hubs if hubs is not None else Hub.objects.none()
        self.fixed_hub = fixed_hub

    def clean_title(self):
        title = self.cleaned_data["title"].strip()
        if not title:
            raise forms.ValidationError("Give the project a title.")
        return title


class MemberAddForm(forms.Form):
    email = forms.EmailField(
        label="E-mail address",
        help_text="Someone with an account on the portal, from any hub.",
        widget=forms.EmailInput(attrs={"autocomplete": "off"}),
    )


class ProjectChoiceForm(forms.Form):
    """Apply with one of your projects at the call's hub."""

    project = forms.ModelChoiceField(queryset=None, empty_label=None, widget=forms.RadioSelect)

    def __init__(self, *args, projects, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["project"].queryset = projects
        self.fields["project"].label_from_instance = lambda p: p.title


# --- Applications ---------------------------------------------------------------------------


class ApplicationForm(forms.Form):
    """The applicant's fields. Drafts may be incomplete: what a submission needs (a title, an
    abstract, at least one row) is checked by ``application_submit``."""

    title = forms.CharField(max_length=200, required=False, help_text="Required before you submit.")
    abstract = forms.CharField(
        required=False,
        max_length=10_000,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text="What you will do with the GPUs. Required before you submit.",
    )
    justification = forms.CharField(
        label="Justification of the GPU-hours",
        required=False,
        max_length=10_000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Why these GPU-hours, and how you will use them (model size, epochs, experiments).",
    )
    duration_days = forms.IntegerField(
        label="Duration (days)",
        min_value=1,
        max_value=3650,
        help_text="How long the work runs.",
    )
    data_sensitivity = forms.ChoiceField(label="Data sensitivity", choices=DataSensitivity.choices)
    ai_system_name = forms.CharField(
        label="AI system concerned",
        max_length=200,
        required=False,
        help_text="The AI system this work trains or runs, as registered for the AI Act (if any).",
    )
    civilian_use = forms.BooleanField(
        label="I declare that the work is for civilian purposes only",
        required=False,
        help_text="Required by every call: GPU time of the network may not serve military purposes.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, f in self.fields.items():
            # The help text, and the error slot that autosave fills in.
            f.widget.attrs["aria-describedby"] = f"id_{name}_helptext err-{name}"
        self.fields["duration_days"].widget.attrs["inputmode"] = "numeric"

    @classmethod
    def for_application(cls, application: Application, data=None):
        initial = {name: getattr(application, name) for name in cls.base_fields}
        return cls(data, initial=initial)

    @classmethod
    def as_typed(cls, data):
        """An unbound form showing what was posted (no errors), for re-rendering."""
        initial = {name: data.get(name, "") for name in cls.base_fields}
        initial["civilian_use"] = bool(data.get("civilian_use"))
        return cls(initial=initial)


@dataclass
class Row:
    """One resource row as shown and as posted."""

    key: str
    resource_id: str = ""
    hours: str = ""
    resource: object = None  # the ComputeResource, when the id is one of the call's
    gpu_hours: int | None = None  # the parsed hours, when valid
    errors: dict = field(default_factory=dict)  # "resource" / "gpu_hours" -> message

    @property
    def blank(self) -> bool:
        """No GPU-hours typed yet: the row is shown and estimated as empty, and not saved."""
        return not self.hours

    @property
    def millicredits(self) -> int | None:
        if self.resource is None or self.gpu_hours is None:
            return None
        return self.gpu_hours * self.resource.rate_millicredits


def rows_from_application(requests) -> list[Row]:
    return [
        Row(
            key=new_row_key(),
            resource_id=str(r.resource_id),
            hours=str(r.gpu_hours),
            resource=r.resource,
            gpu_hours=r.gpu_hours,
        )
        for r in requests
    ]


def parse_rows(data, resources) -> tuple[list[Row], list[str]]:
    """Rows from posted ``data`` checked against ``resources`` (the call's eligible ones).

    Returns the rows (each with its own errors) and errors about the rows as a whole.
    """
    by_id = {str(r.pk): r for r in resources}
    keys, ids, hours = data.getlist("row_key"), data.getlist("row_resource"), data.getlist("row_hours")
    general = []
    if not (len(keys) == len(ids) == len(hours)):
        general.append("The resource rows arrived incomplete; reload the page and try again.")
    rows, seen = [], set()
    for key, resource_id, raw in zip(keys, ids, hours, strict=False):
        key = key if _KEY_RE.match(key or "") else new_row_key()
        row = Row(key=key, resource_id=(resource_id or "").strip(), hours=(raw or "").strip())
        row.resource = by_id.get(row.resource_id)
        rows.append(row)
        if row.blank:  # a row being filled in: neither an error nor saved
            continue
        if not row.resource_id:
            row.errors["resource"] = "Choose a resource."
        elif row.resource is None:
            row.errors["resource"] = "This resource is not offered by the call."
        elif row.resource_id in seen:
            row.errors["resource"] = "This resource already has a row: change the hours there instead."
        seen.add(row.resource_id)
        try:
            value = int(row.hours.replace(",", "").replace("_", "").replace(" ", ""))
        except ValueError:
            row.errors["gpu_hours"] = "Enter a whole number of GPU-hours, e.g. 500."
            continue
        if value < 1:
            row.errors["gpu_hours"] = "GPU-hours must be at least 1."
        elif value > MAX_GPU_HOURS:
            row.errors["gpu_hours"] = f"At most {MAX_GPU_HOURS:,} GPU-hours per row."
        else:
            row.gpu_hours = value
    if len(rows) > MAX_ROWS:
        general.append(f"At most {MAX_ROWS} resource rows.")
    return rows, general


def rows_valid(rows: list[Row]) -> bool:
    return not any(row.errors for row in rows)


def rows_to_save(rows: list[Row]) -> list[tuple]:
    """``(resource, gpu_hours)`` of the complete rows, for ``application_update_draft``."""
    return [(row.resource, row.gpu_hours) for row in rows if not row.blank]
