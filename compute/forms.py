from django import forms

from .models import Track
from .selectors import Phase

PHASE_CHOICES = [("current", "Open and upcoming"), *Phase.choices, ("all", "All calls")]


class CallFilterForm(forms.Form):
    """The filters of the public call list. Invalid values fall back to "no filter"."""

    q = forms.CharField(label="Search", required=False, max_length=100)
    hub = forms.ChoiceField(label="Hub", required=False)
    track = forms.ChoiceField(label="Track", required=False, choices=[("", "All tracks"), *Track.choices])
    status = forms.ChoiceField(label="Status", required=False, choices=PHASE_CHOICES)

    def __init__(self, *args, hubs, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["hub"].choices = [("", "All hubs"), *((h.slug, h.name) for h in hubs)]
        self.fields["q"].widget.attrs.update({"type": "search", "placeholder": "Title, topic or hub"})

    def filters(self) -> dict:
        """Cleaned filters; a field with a bad value is ignored rather than failing the page."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        status = data.get("status") or "current"
        return {
            "q": (data.get("q") or "").strip(),
            "hub": data.get("hub") or "",
            "track": data.get("track") or "",
            "status": status,
        }
