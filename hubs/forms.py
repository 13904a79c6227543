from django import forms

from .models import ApiScope, Hub, Organisation, Profile, Role
from .services import ORCID_TAKEN, orcid_taken


class ProfileForm(forms.ModelForm):
    name = forms.CharField(label="Full name", max_length=150, required=True)

    class Meta:
        model = Profile
        fields = ["orcid", "organisation", "affiliation", "country", "expertise", "email_notifications"]
        widgets = {"expertise": forms.Textarea(attrs={"rows": 3})}
        labels = {"email_notifications": "E-mail me my notifications"}
        help_texts = {"orcid": "Format 0000-0002-1825-0097. Optional."}

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["name"].initial = user.name
        self.fields["organisation"].queryset = Organisation.objects.order_by("name")
        self.order_fields(["name", *self.Meta.fields])

    def clean_orcid(self):
        orcid = self.cleaned_data["orcid"]
        if orcid_taken(orcid, by_other_than=self.user):
            raise forms.ValidationError(ORCID_TAKEN)
        return orcid


class JoinForm(forms.Form):
    motivation = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=2000,
        help_text="A few lines on what you would like to do with the hub.",
    )


class DecisionForm(forms.Form):
    note = forms.CharField(required=False, max_length=2000, label="Note to the person")


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class InviteForm(forms.Form):
    email = forms.EmailField()
    role = forms.ChoiceField(choices=Role.choices, initial=Role.MEMBER)
    message = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}), max_length=1000)


class ApiKeyForm(forms.Form):
    name = forms.CharField(max_length=120, help_text="What will use it, e.g. 'my notebook'.")
    hub = forms.ModelChoiceField(queryset=Hub.objects.none(), help_text="The key only sees this hub's data.")
    scope = forms.ChoiceField(choices=ApiScope.choices, initial=ApiScope.READ)

    def __init__(self, *args, hubs, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["hub"].queryset = hubs


class DeleteAccountForm(forms.Form):
    confirm = forms.CharField(label="Type DELETE to confirm", max_length=10)

    def clean_confirm(self):
        if self.cleaned_data["confirm"] != "DELETE":
            raise forms.ValidationError("Type DELETE in capitals to confirm.")
        return self.cleaned_data["confirm"]
