from django import forms

from hubs.models import Hub, Sector

from .models import POSTABLE_KINDS, Audience, Delivery, NewsKind


class NewsFilterForm(forms.Form):
    q = forms.CharField(label="Search", required=False, max_length=100)
    kind = forms.ChoiceField(label="Kind", required=False, choices=[("", "All kinds"), *NewsKind.choices])
    hub = forms.ModelChoiceField(
        label="Hub", required=False, queryset=Hub.objects.none(), to_field_name="slug", empty_label="All hubs"
    )
    sector = forms.ChoiceField(label="Sector", required=False, choices=[("", "All sectors"), *Sector.choices])

    def __init__(self, *args, hubs, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["hub"].queryset = hubs


class NewsPostForm(forms.Form):
    hub = forms.ModelChoiceField(queryset=Hub.objects.none(), help_text="The hub you post for.")
    kind = forms.ChoiceField(
        choices=[(k.value, k.label) for k in POSTABLE_KINDS], widget=forms.RadioSelect, initial=NewsKind.ANNOUNCEMENT
    )
    title = forms.CharField(max_length=200)
    body = forms.CharField(
        label="Text",
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text="For a lesson learned: what you tried, what happened, what you would do again or differently.",
    )
    sector = forms.ChoiceField(
        required=False,
        choices=[("", "No particular sector"), *Sector.choices],
        help_text="Subscribers to this sector get it too.",
    )
    url = forms.CharField(
        label="Link (optional)",
        required=False,
        max_length=300,
        help_text="A page with more, e.g. https://… or /pilots/12/",
    )

    def __init__(self, *args, hubs, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["hub"].queryset = hubs
        if hubs.count() == 1:
            self.fields["hub"].initial = hubs.first()


class SubscriptionForm(forms.Form):
    hub = forms.ModelChoiceField(label="From hub", required=False, queryset=Hub.objects.none(), empty_label="Any hub")
    sector = forms.ChoiceField(label="Sector", required=False, choices=[("", "Any sector"), *Sector.choices])
    kind = forms.ChoiceField(label="Kind of news", required=False, choices=[("", "Any kind"), *NewsKind.choices])
    delivery = forms.ChoiceField(
        label="E-mail",
        required=False,
        choices=[("", "My default"), *Delivery.choices],
    )

    def __init__(self, *args, hubs, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["hub"].queryset = hubs

    def clean(self):
        data = super().clean()
        if not (data.get("hub") or data.get("sector") or data.get("kind")):
            raise forms.ValidationError("Choose at least one of: a hub, a sector, a kind of news.")
        return data


class HubSubscriptionForm(SubscriptionForm):
    subscriber_hub = forms.ModelChoiceField(label="For your hub", queryset=Hub.objects.none())
    audience = forms.ChoiceField(label="Deliver to", choices=Audience.choices, initial=Audience.STAFF)

    def __init__(self, *args, hubs, staff_hubs, **kwargs):
        super().__init__(*args, hubs=hubs, **kwargs)
        del self.fields["delivery"]
        self.fields["subscriber_hub"].queryset = staff_hubs
        self.order_fields(["subscriber_hub", "audience", "hub", "sector", "kind"])


class PreferenceForm(forms.Form):
    delivery = forms.ChoiceField(label="By default, e-mail me", choices=Delivery.choices, widget=forms.RadioSelect)


class DeliveryChoiceForm(forms.Form):
    delivery = forms.ChoiceField(required=False, choices=[("", "My default"), *Delivery.choices])
