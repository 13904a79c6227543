"""Forms of the event pages. The services decide what is valid; their ``ValidationError``
keys land next to the matching fields (``gigafactory.forms.add_service_errors``)."""

from django import forms

from .models import EventKind, EventMode, RegistrationRole

DATETIME_INPUT = "%Y-%m-%dT%H:%M"
WHEN_CHOICES = [("upcoming", "Upcoming"), ("past", "Past"), ("all", "All")]


def _datetime_field(label):
    return forms.DateTimeField(
        label=label,
        input_formats=[DATETIME_INPUT, "%Y-%m-%d %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_INPUT),
    )


class EventFilterForm(forms.Form):
    q = forms.CharField(label="Search", required=False, max_length=100)
    hub = forms.ChoiceField(label="Hub", required=False)
    kind = forms.ChoiceField(label="Kind", required=False, choices=[("", "All kinds"), *EventKind.choices])
    when = forms.ChoiceField(label="When", required=False, choices=WHEN_CHOICES)

    def __init__(self, *args, hubs, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["hub"].choices = [("", "All hubs"), *((h.slug, h.name) for h in hubs)]
        self.fields["q"].widget.attrs.update({"type": "search", "placeholder": "Title or topic"})

    def filters(self) -> dict:
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        return {
            "q": (data.get("q") or "").strip(),
            "hub": data.get("hub") or "",
            "kind": data.get("kind") or "",
            "when": data.get("when") or "upcoming",
        }


class RegistrationForm(forms.Form):
    role = forms.ChoiceField(label="I come as", choices=RegistrationRole.choices, widget=forms.RadioSelect)
    organisation_name = forms.CharField(label="Organisation or startup", required=False, max_length=200)
    note = forms.CharField(
        label="A note for the organisers",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Investors: your focus. Startups: what you will pitch.",
    )

    def __init__(self, *args, demo_day=False, **kwargs):
        kwargs.setdefault("initial", {"role": RegistrationRole.ATTENDEE})
        super().__init__(*args, **kwargs)
        if not demo_day:
            self.fields["role"].choices = [(RegistrationRole.ATTENDEE, RegistrationRole.ATTENDEE.label)]
            self.fields["role"].widget = forms.HiddenInput()
            self.fields["note"].help_text = ""


class EventForm(forms.Form):
    hub = forms.ChoiceField(label="Hub")
    title = forms.CharField(label="Title", max_length=200)
    kind = forms.ChoiceField(label="Kind", choices=EventKind.choices)
    description = forms.CharField(label="Description", required=False, widget=forms.Textarea(attrs={"rows": 5}))
    starts_at = _datetime_field("Starts")
    ends_at = _datetime_field("Ends")
    mode = forms.ChoiceField(label="Where", choices=EventMode.choices, widget=forms.RadioSelect, initial="on_site")
    place = forms.CharField(label="Venue and address", required=False, max_length=200)
    link = forms.CharField(label="Streaming or video-call link", required=False, max_length=200)
    capacity = forms.IntegerField(label="Places", help_text="Further registrations join the waiting list.")

    def __init__(self, *args, hubs, editing=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["hub"].choices = [(str(h.pk), h.name) for h in hubs]
        if editing:
            del self.fields["hub"]


class PitchSlotForm(forms.Form):
    starts_at = _datetime_field("Pitch starts")
    minutes = forms.IntegerField(label="Minutes", initial=10)
