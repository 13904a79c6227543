"""Forms of the assurance pages. They collect input; the services check the data itself."""

from django import forms
from django.core.exceptions import ValidationError

from . import csvio

THRESHOLD_HELP = "Between 0 and 1."


def _column(label, help_text="", required=True):
    field = forms.CharField(label=label, max_length=200, required=required, help_text=help_text)
    field.widget.attrs.update({"list": "csv-columns", "autocomplete": "off", "class": "column-input"})
    return field


def _upload_field():
    field = forms.FileField(
        label="CSV file",
        help_text=f"UTF-8 text, a header row, comma or semicolon separated; at most "
        f"{csvio.human_size(csvio.max_upload_bytes())} and {csvio.max_rows():,} rows.",
    )
    field.widget.attrs.update({"accept": ".csv,text/csv", "data-csv-header": "csv-columns"})
    return field


def read_upload(form, field_name="file") -> bytes | None:
    """The uploaded bytes, or a form error when the file is over the limit (checked before reading)."""
    upload = form.cleaned_data.get(field_name)
    if upload is None:
        return None
    limit = csvio.max_upload_bytes()
    if upload.size > limit:
        form.add_error(
            field_name, f"The file is {csvio.human_size(upload.size)}; the limit is {csvio.human_size(limit)}."
        )
        return None
    return upload.read()


class FairnessUploadForm(forms.Form):
    name = forms.CharField(
        label="Name of this run", max_length=200, required=False, help_text="e.g. 'Validation set, March 2026'"
    )
    file = _upload_field()
    label_column = _column("True label column", "The actual outcome, 0/1 (or yes/no, true/false).")
    prediction_column = _column("Predicted label column", "The model's decision, 0/1.")
    score_column = _column("Score column (optional)", "The model's score or probability, for ROC AUC.", False)
    sensitive_columns = forms.CharField(
        label="Sensitive attribute columns",
        max_length=800,
        help_text="One or more, separated by commas (e.g. sex, age_band). With several, their "
        "intersections are checked too.",
    )
    sensitive_columns.widget.attrs.update({"list": "csv-columns", "autocomplete": "off"})
    positive_label = forms.CharField(
        label="Positive label (optional)",
        max_length=100,
        required=False,
        help_text="Only if the labels are words: the value that means 'positive', e.g. 'approved'.",
    )
    expected_groups = forms.CharField(
        label="Groups that must be present (optional)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="One attribute per line, e.g. 'sex: female, male'. A listed group without rows is an error.",
    )
    max_parity_difference = forms.FloatField(
        label="Demographic parity difference at most", initial=0.1, min_value=0, max_value=1, help_text=THRESHOLD_HELP
    )
    min_parity_ratio = forms.FloatField(
        label="Demographic parity ratio at least",
        initial=0.8,
        min_value=0,
        max_value=1,
        help_text="0.8 is the 'four-fifths' rule.",
    )
    max_equalized_odds_difference = forms.FloatField(
        label="Equalized odds difference at most", initial=0.1, min_value=0, max_value=1, help_text=THRESHOLD_HELP
    )
    max_equal_opportunity_difference = forms.FloatField(
        label="Equal opportunity difference at most",
        initial=0.1,
        min_value=0,
        max_value=1,
        help_text=THRESHOLD_HELP,
    )

    def clean_sensitive_columns(self):
        names = [n.strip() for n in self.cleaned_data["sensitive_columns"].split(",") if n.strip()]
        if not names:
            raise ValidationError("Name at least one sensitive attribute column.")
        return names

    def clean_expected_groups(self):
        groups = {}
        for number, line in enumerate(self.cleaned_data["expected_groups"].splitlines(), start=1):
            if not line.strip():
                continue
            column, sep, values = line.partition(":")
            if not sep or not column.strip():
                raise ValidationError(f"Line {number}: write 'column: group, group'.")
            groups[column.strip()] = [v.strip() for v in values.split(",") if v.strip()]
        return groups

    def mapping(self) -> dict:
        data = self.cleaned_data
        return {
            "name": data["name"],
            "label_column": data["label_column"].strip(),
            "prediction_column": data["prediction_column"].strip(),
            "score_column": (data["score_column"] or "").strip(),
            "sensitive_columns": data["sensitive_columns"],
            "positive_label": data["positive_label"].strip(),
            "expected_groups": data["expected_groups"],
            "thresholds": {
                k: data[k]
                for k in (
                    "max_parity_difference",
                    "min_parity_ratio",
                    "max_equalized_odds_difference",
                    "max_equal_opportunity_difference",
                )
            },
        }


class ReferenceUploadForm(forms.Form):
    name = forms.CharField(max_length=200, help_text="e.g. 'Validation data, March 2026'")
    description = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Where the data comes from, the period it covers and why it represents normal operation.",
    )
    file = _upload_field()
    psi_threshold = forms.FloatField(
        label="PSI drift threshold",
        initial=0.1,
        min_value=0.001,
        max_value=10,
        help_text="A column drifts at this population stability index or above (0.1 moderate, 0.25 major shift).",
    )
    alpha = forms.FloatField(
        label="Significance level",
        initial=0.05,
        min_value=0.0001,
        max_value=0.5,
        help_text="Kolmogorov-Smirnov and chi-square p-values below it count as drift.",
    )
    js_threshold = forms.FloatField(
        label="Jensen-Shannon distance threshold",
        initial=0.1,
        min_value=0.001,
        max_value=1,
        help_text="Used for categories when the reference has more than 1,000 rows.",
    )


class BatchUploadForm(forms.Form):
    label = forms.CharField(max_length=200, required=False, help_text="e.g. 'Week 42'")
    file = _upload_field()


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=[("sign_off", "Sign off"), ("reject", "Reject")], widget=forms.RadioSelect)
    note = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="The board's rationale (required to reject).",
    )

    def clean(self):
        data = super().clean()
        if data.get("decision") == "reject" and not (data.get("note") or "").strip():
            self.add_error("note", "Say why the board rejects the reference data.")
        return data
