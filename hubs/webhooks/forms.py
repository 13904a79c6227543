from django import forms

from gigafactory.events import EVENT_TYPES
from hubs.models import Hub

from .models import DeliveryStatus, EndpointScope

EVENT_CHOICES = [(name, f"{name} — {text}") for name, text in EVENT_TYPES.items()]


class EndpointForm(forms.Form):
    hub = forms.ModelChoiceField(queryset=Hub.objects.none(), help_text="Events of this hub are sent.")
    url = forms.CharField(
        label="Payload URL", max_length=500, help_text="We POST JSON here. Use https:// outside a test setup."
    )
    description = forms.CharField(required=False, max_length=200, help_text="What receives it, e.g. 'Slurm bridge'.")
    all_events = forms.BooleanField(label="Send every event type (also types added later)", required=False)
    event_types = forms.MultipleChoiceField(
        choices=EVENT_CHOICES, required=False, widget=forms.CheckboxSelectMultiple, label="Event types"
    )
    scope = forms.ChoiceField(choices=EndpointScope.choices, initial=EndpointScope.HUB, widget=forms.RadioSelect)

    def __init__(self, *args, hubs=None, editing=False, **kwargs):
        super().__init__(*args, **kwargs)
        if editing:
            del self.fields["hub"]
        else:
            self.fields["hub"].queryset = hubs
            if hubs.count() == 1:
                self.fields["hub"].initial = hubs.first()

    def clean_url(self):
        from django.core.exceptions import ValidationError

        from .services import clean_url

        try:
            return clean_url(self.cleaned_data["url"])
        except ValidationError as exc:
            raise forms.ValidationError(exc.message_dict["url"]) from exc

    def clean(self):
        data = super().clean()
        if data.get("all_events"):
            data["event_types"] = ["*"]
        elif not data.get("event_types"):
            self.add_error("event_types", "Choose at least one event type, or send every event type.")
        return data


class DeliveryFilterForm(forms.Form):
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *DeliveryStatus.choices])
    event_type = forms.ChoiceField(
        label="Event", required=False, choices=[("", "Any event"), ("ping", "ping (test)"), *EVENT_TYPES.items()]
    )
