"""Forms of the clinic pages. Forms parse and present; the services decide what is valid and
their ``ValidationError`` keys land next to the matching fields (``gigafactory.forms.add_service_errors``)."""

from django import forms

from hubs.models import Sector

from .models import Mode

DATETIME_INPUT = "%Y-%m-%dT%H:%M"


class SlotFilterForm(forms.Form):
    """Filters of the public slot list; a bad value is ignored rather than failing the page."""

    hub = forms.ChoiceField(label="Hub", required=False)
    topic = forms.CharField(label="Topic", required=False, max_length=100)
    date = forms.DateField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    mode = forms.ChoiceField(label="Where", required=False, choices=[("", "On site or online"), *Mode.choices])
    free = forms.BooleanField(label="Free slots only", required=False)

    def __init__(self, *args, hubs, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["hub"].choices = [("", "All hubs"), *((h.slug, h.name) for h in hubs)]
        self.fields["topic"].widget.attrs.update({"type": "search", "placeholder": "e.g. vision, forecasting"})

    def filters(self) -> dict:
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        return {
            "hub": data.get("hub") or "",
            "topic": (data.get("topic") or "").strip(),
            "date": data.get("date").isoformat() if data.get("date") else "",
            "mode": data.get("mode") or "",
            "free": "on" if data.get("free") else "",
        }


class BookingForm(forms.Form):
    organisation_name = forms.CharField(
        label="Your business or organisation", required=False, max_length=200, help_text="Optional"
    )
    # The "required" messages say what to write, as the booking service's do.
    sector = forms.ChoiceField(
        label="Sector",
        choices=[("", "Choose your sector"), *Sector.choices],
        error_messages={"required": "Choose your sector from the list."},
    )
    problem = forms.CharField(
        label="The problem you would like help with",
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="A few sentences: what you want to achieve and what is hard about it.",
        error_messages={"required": "Describe the problem you would like help with."},
    )
    data_description = forms.CharField(
        label="The data you have",
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="What kind, how much, in which form (spreadsheets, images, sensor logs, none yet…).",
        error_messages={"required": "Describe the data you have (even “none yet” helps the expert prepare)."},
    )


class SlotForm(forms.Form):
    hub = forms.ChoiceField(label="Hub")
    expert = forms.ChoiceField(label="Expert")
    topic = forms.CharField(label="Topic", max_length=200)
    description = forms.CharField(
        label="What you can help with", required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    starts_at = forms.DateTimeField(
        label="Starts",
        input_formats=[DATETIME_INPUT, "%Y-%m-%d %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_INPUT),
        help_text="Central European time",
    )
    duration_minutes = forms.IntegerField(label="Duration (minutes)", initial=45)
    mode = forms.ChoiceField(label="Where", choices=Mode.choices, widget=forms.RadioSelect, initial=Mode.ON_SITE)
    place = forms.CharField(label="Place (on site)", required=False, max_length=200)
    link = forms.CharField(label="Video-call link (online)", required=False, max_length=200)

    def __init__(self, *args, hubs, experts, editing=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["hub"].choices = [(str(h.pk), h.name) for h in hubs]
        self.fields["expert"].choices = [(str(u.pk), f"{u.display_name} ({u.email})") for u in experts]
        if editing:
            del self.fields["hub"]
            del self.fields["expert"]


class CancelForm(forms.Form):
    reason = forms.CharField(
        label="Reason (optional)", required=False, max_length=300, widget=forms.TextInput(attrs={"size": 50})
    )


RECOMMENDATION_ROWS = 3


class FollowUpForm(forms.Form):
    notes = forms.CharField(label="Notes from the session", required=False, widget=forms.Textarea(attrs={"rows": 5}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for i in range(1, RECOMMENDATION_ROWS + 1):
            self.fields[f"rec_text_{i}"] = forms.CharField(label=f"Recommendation {i}", required=False, max_length=300)
            self.fields[f"rec_link_{i}"] = forms.URLField(label=f"Link {i}", required=False, assume_scheme="https")
        self.fields["recommendations"] = forms.CharField(required=False, widget=forms.HiddenInput)

    def rows(self):
        return [(self[f"rec_text_{i}"], self[f"rec_link_{i}"]) for i in range(1, RECOMMENDATION_ROWS + 1)]

    def recommendations(self):
        data = self.cleaned_data
        return [
            (data.get(f"rec_text_{i}", ""), data.get(f"rec_link_{i}", "")) for i in range(1, RECOMMENDATION_ROWS + 1)
        ]
