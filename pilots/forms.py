"""Forms of the pilot pages. They collect input; the services validate the whole and write it."""

from django import forms
from django.forms import formset_factory

from hubs.countries import Country
from hubs.models import Hub, MembershipStatus, Sector, User

from .models import PartnerRole, PilotStatus

DATE = forms.DateInput(attrs={"type": "date"})


class PilotForm(forms.Form):
    hub = forms.ModelChoiceField(queryset=Hub.objects.none(), empty_label=None, help_text="The hub that runs it")
    title = forms.CharField(max_length=200, min_length=3)
    summary = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), help_text="What it does and for whom")
    sector = forms.ChoiceField(choices=Sector.choices)
    starts_on = forms.DateField(label="Start date", required=False, widget=DATE)
    ends_on = forms.DateField(label="End date", required=False, widget=DATE)
    lessons_learned = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        required=False,
        help_text="What worked, what did not, what another hub should know before adapting it",
    )
    lead = forms.ModelChoiceField(queryset=User.objects.none(), required=False, help_text="A member of the hub")
    team = forms.ModelMultipleChoiceField(
        queryset=User.objects.none(),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 6}),
        help_text="Members of the hub who work on the pilot (hold Ctrl or ⌘ to pick several)",
    )
    projects = forms.ModelMultipleChoiceField(
        queryset=None, required=False, help_text="Compute projects of the hub that serve this pilot"
    )
    allocations = forms.ModelMultipleChoiceField(queryset=None, required=False, help_text="GPU credits it uses")
    ai_systems = forms.ModelMultipleChoiceField(
        queryset=None, required=False, label="AI systems", help_text="AI systems of the hub that the pilot runs"
    )

    def __init__(self, *args, hubs, pilot=None, **kwargs):
        from compliance.models import AISystem
        from compute.models import Allocation, Project

        super().__init__(*args, **kwargs)
        self.fields["hub"].queryset = hubs
        self.pilot = pilot
        if pilot is None:
            # Links to people, projects and credits depend on the hub: they come on the edit page.
            for name in ("lead", "team", "projects", "allocations", "ai_systems", "lessons_learned"):
                del self.fields[name]
            return
        del self.fields["hub"]
        members = (
            User.objects.filter(memberships__hub=pilot.hub, memberships__status=MembershipStatus.ACTIVE, is_active=True)
            .distinct()
            .order_by("name", "email")
        )
        self.fields["lead"].queryset = members
        self.fields["team"].queryset = members
        self.fields["projects"].queryset = Project.objects.filter(hub=pilot.hub).order_by("title")
        self.fields["allocations"].queryset = (
            Allocation.objects.filter(hub=pilot.hub).select_related("project").order_by("-created_at")
        )
        self.fields["ai_systems"].queryset = AISystem.objects.filter(hub=pilot.hub).order_by("name")

    def clean(self):
        data = super().clean()
        if data.get("starts_on") and data.get("ends_on") and data["ends_on"] < data["starts_on"]:
            self.add_error("ends_on", "The end date cannot be before the start date.")
        return data


class PartnerForm(forms.Form):
    name = forms.CharField(max_length=200)
    role = forms.ChoiceField(choices=PartnerRole.choices)
    website = forms.URLField(required=False, assume_scheme="https")
    contribution = forms.CharField(max_length=300, required=False)


class MilestoneForm(forms.Form):
    title = forms.CharField(max_length=200)
    due_on = forms.DateField(label="Due date", widget=DATE)
    done = forms.BooleanField(required=False)
    done_on = forms.DateField(label="Done on", required=False, widget=DATE)


class MetricForm(forms.Form):
    name = forms.CharField(max_length=120)
    unit = forms.CharField(max_length=40, required=False)
    baseline = forms.DecimalField(max_digits=14, decimal_places=3)
    target = forms.DecimalField(max_digits=14, decimal_places=3)
    achieved = forms.DecimalField(max_digits=14, decimal_places=3, required=False)

    def clean(self):
        data = super().clean()
        if data.get("baseline") is not None and data.get("baseline") == data.get("target"):
            self.add_error("target", "The target must differ from the baseline.")
        return data


PartnerFormSet = formset_factory(PartnerForm, extra=1, can_delete=True, max_num=30, validate_max=True)
MilestoneFormSet = formset_factory(MilestoneForm, extra=1, can_delete=True, max_num=50, validate_max=True)
MetricFormSet = formset_factory(MetricForm, extra=1, can_delete=True, max_num=12, validate_max=True)


def formset_rows(formset) -> list[dict]:
    """The filled-in, not deleted rows of a valid formset."""
    return [
        {k: v for k, v in form.cleaned_data.items() if k != "DELETE"}
        for form in formset.forms
        if form.cleaned_data and not form.cleaned_data.get("DELETE")
    ]


class PilotFilterForm(forms.Form):
    q = forms.CharField(label="Search", required=False, widget=forms.TextInput(attrs={"type": "search"}))
    hub = forms.ChoiceField(required=False)
    sector = forms.ChoiceField(choices=[("", "All sectors"), *Sector.choices], required=False)
    status = forms.ChoiceField(choices=[("", "Any status"), *PilotStatus.choices], required=False)

    def __init__(self, *args, hubs, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["hub"].choices = [("", "All hubs"), *[(h.slug, h.name) for h in hubs]]

    def filters(self) -> dict:
        if not self.is_bound or not self.is_valid():
            return dict.fromkeys(self.fields, "")
        return {k: (v or "").strip() for k, v in self.cleaned_data.items()}


class ShowcaseFilterForm(PilotFilterForm):
    country = forms.ChoiceField(required=False)

    def __init__(self, *args, hubs, **kwargs):
        super().__init__(*args, hubs=hubs, **kwargs)
        del self.fields["status"]
        used = {h.country for h in hubs}
        self.fields["country"].choices = [("", "All countries"), *[(c, n) for c, n in Country.choices if c in used]]


class CaseStudyForm(forms.Form):
    headline = forms.CharField(max_length=200, help_text="One line a visitor understands, e.g. the result in words")
    story = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 12}),
        help_text="The challenge, what was built, with whom, what changed, and what others should know.",
    )


class StopForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), help_text="The team and the hub will read it", max_length=2000
    )


class AdaptForm(forms.Form):
    hub = forms.ModelChoiceField(queryset=Hub.objects.none(), empty_label=None, label="Adapt at")
    title = forms.CharField(max_length=200, required=False, help_text="Leave empty to keep the original title")
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        max_length=2000,
        help_text="What you will change for your hub; the original team reads it",
    )

    def __init__(self, *args, hubs, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["hub"].queryset = hubs
