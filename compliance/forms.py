from django import forms

from hubs.models import Hub, Organisation

from .models import AISystem, EvidenceType, ItemStatus, ReviewStatus

SYSTEM_FORM_FIELDS = [
    "name",
    "hub",
    "organisation",
    "intended_purpose",
    "role",
    "sector",
    "input_modality",
    "output_modality",
    "uses_personal_data",
    "uses_health_data",
    "uses_biometric_data",
    "is_gpai_model",
    "builds_on_gpai",
    "gpai_base_model",
    "training_compute_flop",
    "deployment_status",
    "on_market_since",
]


class FlopField(forms.FloatField):
    """Accepts 3e24, 3E+24, 3 000 000 or 3,000,000."""

    def to_python(self, value):
        if isinstance(value, str):
            value = value.replace(",", "").replace(" ", "").replace("\u202f", "")
        return super().to_python(value)


class SystemForm(forms.ModelForm):
    training_compute_flop = FlopField(
        label="Training compute (FLOP)",
        required=False,
        min_value=0,
        help_text="Cumulative training compute, e.g. 3e24. Above 1e25 a general-purpose model is presumed "
        "to have systemic risk (Art. 51).",
        widget=forms.TextInput(attrs={"inputmode": "decimal", "placeholder": "e.g. 3e24"}),
    )

    class Meta:
        model = AISystem
        fields = SYSTEM_FORM_FIELDS
        widgets = {
            "intended_purpose": forms.Textarea(attrs={"rows": 4}),
            "on_market_since": forms.DateInput(attrs={"type": "date"}),
        }
        help_texts = {
            "uses_health_data": "Health, genetic data: special categories under GDPR Art. 9",
            "uses_biometric_data": "Faces, voices, fingerprints used to identify or categorise people",
        }

    def __init__(self, *args, hubs=None, editing=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["hub"].queryset = hubs if hubs is not None else Hub.objects.none()
        self.fields["organisation"].queryset = Organisation.objects.order_by("name")
        if editing:
            del self.fields["hub"]


class LinkForm(forms.Form):
    projects = forms.ModelMultipleChoiceField(queryset=None, required=False, widget=forms.CheckboxSelectMultiple)
    applications = forms.ModelMultipleChoiceField(
        queryset=None, required=False, widget=forms.CheckboxSelectMultiple, label="Credit applications"
    )

    pilots = forms.ModelMultipleChoiceField(
        queryset=None, required=False, widget=forms.CheckboxSelectMultiple, label="Pilots"
    )

    def __init__(self, *args, projects, applications, pilots, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["projects"].queryset = projects
        self.fields["applications"].queryset = applications
        self.fields["pilots"].queryset = pilots
        self.fields["pilots"].label_from_instance = lambda p: f"{p.title} ({p.hub}, {p.get_status_display()})"
        self.fields["applications"].label_from_instance = lambda a: f"{a.title} ({a.call}, {a.get_status_display()})"


class ItemForm(forms.Form):
    status = forms.ChoiceField(choices=ItemStatus.choices)
    justification = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Required when the obligation does not apply: say why.",
    )
    owner = forms.ModelChoiceField(queryset=None, required=False, empty_label="Nobody yet")

    def __init__(self, *args, people, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = people


class EvidenceFileForm(forms.Form):
    file = forms.FileField(help_text="PDF, image, text, CSV, JSON, Office or OpenDocument file, up to 10 MB.")
    label = forms.CharField(max_length=200, required=False, help_text="Defaults to the file name")
    evidence_type = forms.ChoiceField(choices=EvidenceType.choices, label="Kind of evidence")

    def __init__(self, *args, **kwargs):
        # Shown next to the link form, which has fields of the same names: ids of its own.
        kwargs.setdefault("auto_id", "file_%s")
        super().__init__(*args, **kwargs)


class EvidenceLinkForm(forms.Form):
    label = forms.CharField(max_length=200)
    url = forms.CharField(max_length=500, label="Address", help_text="https://… or a page of this portal (/…)")
    evidence_type = forms.ChoiceField(choices=EvidenceType.choices, label="Kind of evidence")

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "link_%s")
        super().__init__(*args, **kwargs)


class CommentForm(forms.Form):
    body = forms.CharField(label="Comment", widget=forms.Textarea(attrs={"rows": 3}))


class ReviewRequestForm(forms.Form):
    note = forms.CharField(
        label="Note for the board",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="What should the board look at?",
    )


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(
        choices=[
            (ReviewStatus.APPROVED, "Approve"),
            (ReviewStatus.APPROVED_WITH_CONDITIONS, "Approve with conditions"),
            (ReviewStatus.REJECTED, "Reject"),
        ],
        widget=forms.RadioSelect,
    )
    rationale = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), help_text="Recorded in the audit trail")
    conditions = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2}), help_text="Required for an approval with conditions"
    )


class BoardMemberForm(forms.Form):
    hub = forms.ModelChoiceField(queryset=None)
    email = forms.EmailField(label="E-mail of a hub member")
    title = forms.CharField(max_length=120, required=False, help_text="e.g. Chair, Data protection officer")

    def __init__(self, *args, hubs, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["hub"].queryset = hubs
