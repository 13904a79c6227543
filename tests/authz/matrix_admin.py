"""The Django admin's main changelists, one per app's primary models: hub staff (``is_staff``,
with MFA) see their own hubs' rows only, superusers every row; anyone else is sent to the
admin's login. The rest of the admin is excluded (``EXCLUDED_PREFIXES``): its own permission
system, and the per-app admin tests.
"""

from .matrix import page

# (changelist URL name, what shows a side's object in the list)
CHANGELISTS = [
    ("admin:hubs_hub_changelist", lambda w, s: s.hub.name),
    ("admin:hubs_membership_changelist", lambda w, s: s.applicant.name),
    ("admin:compute_call_changelist", lambda w, s: s.call.title),
    ("admin:compute_project_changelist", lambda w, s: s.project.title),
    ("admin:compute_application_changelist", lambda w, s: s.application.title),
    ("admin:compute_usagerecord_changelist", lambda w, s: s.usage_job),
    ("admin:pilots_pilot_changelist", lambda w, s: s.pilot.title),
    ("admin:pilots_casestudy_changelist", lambda w, s: s.case_study.headline),
    ("admin:clinics_clinicslot_changelist", lambda w, s: s.slot.topic),
    ("admin:events_event_changelist", lambda w, s: s.event.title),
    ("admin:events_registration_changelist", lambda w, s: s.registration.organisation_name),
    ("admin:network_newsitem_changelist", lambda w, s: s.news.title),
    ("admin:webhooks_endpoint_changelist", lambda w, s: s.endpoint.description),
    ("admin:compliance_aisystem_changelist", lambda w, s: s.system.name),
    ("admin:assurance_fairnesscheck_changelist", lambda w, s: s.fairness.name),
]

ROWS = [
    page("GET", name, "nn", staff_a="yh", staff_b="hy", superuser="yy", marker=marker) for name, marker in CHANGELISTS
]
