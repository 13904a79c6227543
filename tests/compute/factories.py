"""Compute factories. Money goes through the ledger, as in production: ``fund_call`` or
``CallFactory(budget=...)`` transfers from the funding source into the call's budget."""

import uuid
from datetime import timedelta

import factory
from django.utils import timezone

from compute import ledger
from compute.models import (
    MILLI,
    Application,
    AppStatus,
    Call,
    ComputeProvider,
    ComputeResource,
    FundingSource,
    Project,
    ProjectMember,
    ProjectRole,
    ResourceRequest,
    Track,
    TransactionKind,
)
from tests.factories import HubFactory, UserFactory


def fund_call(call, amount_millicredits, *, key=None):
    txn, _ = ledger.transfer(
        kind=TransactionKind.FUND,
        idempotency_key=key or f"test-fund:{call.pk}:{uuid.uuid4().hex}",
        source=ledger.funding_account(call.funding_source),
        target=ledger.call_account(call),
        amount=amount_millicredits,
    )
    return txn


def budget_left(call) -> int:
    return ledger.call_account(call).balance


class FundingSourceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FundingSource

    name = factory.Sequence(lambda n: f"EuroHPC programme {n}")
    kind = FundingSource.Kind.EU
    reference = factory.Sequence(lambda n: f"GA-{100000 + n}")


class ComputeProviderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ComputeProvider

    name = factory.Sequence(lambda n: f"HPC centre {n}")
    hub = factory.SubFactory(HubFactory)


class ComputeResourceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ComputeResource

    provider = factory.SubFactory(ComputeProviderFactory)
    hub = factory.LazyAttribute(lambda o: o.provider.hub)
    name = factory.Sequence(lambda n: f"gpu-partition-{n}")
    gpu_model = "NVIDIA H100 80GB"
    rate_millicredits = MILLI  # one credit per GPU-hour
    monthly_capacity_gpu_hours = 100_000
    slurm_partition = factory.LazyAttribute(lambda o: o.name)


class CallFactory(factory.django.DjangoModelFactory):
    """An open call with one eligible H100 resource at its hub.

    ``resources=[...]`` replaces the eligible resources; ``funded=<millicredits>`` funds its budget
    through the ledger.
    """

    class Meta:
        model = Call
        skip_postgeneration_save = True

    hub = factory.SubFactory(HubFactory)
    funding_source = factory.SubFactory(FundingSourceFactory)
    title = factory.Sequence(lambda n: f"GPU call {n}")
    slug = factory.Sequence(lambda n: f"gpu-call-{n}")
    description = "GPU-hours for AI projects."
    track = Track.FAST_LANE
    opens_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=7))
    closes_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=30))
    max_request_millicredits = 50_000 * MILLI
    playground_grant_millicredits = 0
    allocation_days = 180
    min_reviewers = 2

    @factory.post_generation
    def resources(obj, create, extracted, **kwargs):
        if not create:
            return
        if extracted is None:
            extracted = [ComputeResourceFactory(provider=ComputeProviderFactory(hub=obj.hub))]
        obj.eligible_resources.set(extracted)

    @factory.post_generation
    def funded(obj, create, extracted, **kwargs):
        amount = extracted if extracted is not None else 0
        if create and amount:
            fund_call(obj, amount)


class ProjectFactory(factory.django.DjangoModelFactory):
    """A project whose PI is also its first ProjectMember (role pi)."""

    class Meta:
        model = Project
        skip_postgeneration_save = True

    hub = factory.SubFactory(HubFactory)
    title = factory.Sequence(lambda n: f"Project {n}")
    summary = "Training models for the common good."
    pi = factory.SubFactory(UserFactory)

    @factory.post_generation
    def pi_member(obj, create, extracted, **kwargs):
        if create:
            ProjectMember.objects.get_or_create(project=obj, user=obj.pi, defaults={"role": ProjectRole.PI})

    @factory.post_generation
    def members(obj, create, extracted, **kwargs):
        if create and extracted:
            for user in extracted:
                ProjectMember.objects.get_or_create(project=obj, user=user, defaults={"role": ProjectRole.MEMBER})


class ApplicationFactory(factory.django.DjangoModelFactory):
    """A complete draft by the project's PI: 100 GPU-hours (``rows__gpu_hours=...``) on the call's
    first eligible resource, or ``rows=[(resource, hours), ...]``.

    Other states are set directly (``status=...``) for tests that start from them.
    """

    class Meta:
        model = Application
        skip_postgeneration_save = True

    call = factory.SubFactory(CallFactory)
    project = factory.SubFactory(ProjectFactory, hub=factory.SelfAttribute("..call.hub"))
    hub = factory.LazyAttribute(lambda o: o.call.hub)
    applicant = factory.LazyAttribute(lambda o: o.project.pi)
    title = factory.Sequence(lambda n: f"Foundation model for radiology {n}")
    abstract = "We fine-tune an open model on anonymised images."
    justification = "Ten epochs on 8 GPUs."
    civilian_use = True
    status = AppStatus.DRAFT

    @factory.post_generation
    def rows(obj, create, extracted, **kwargs):
        if not create:
            return
        if extracted is None:
            hours = kwargs.get("gpu_hours", 100)
            resource = obj.call.eligible_resources.order_by("pk").first()
            extracted = [(resource, hours)] if resource is not None else []
        total = 0
        for resource, hours in extracted:
            ResourceRequest.objects.create(application=obj, resource=resource, gpu_hours=hours)
            total += hours * resource.rate_millicredits
        if obj.requested_millicredits != total:
            Application.objects.filter(pk=obj.pk).update(requested_millicredits=total)
            obj.requested_millicredits = total


def set_status(application, status):
    """Put ``application`` in ``status`` directly, as if it had got there through the workflow."""
    values = {"status": status}
    if status != AppStatus.DRAFT:
        values["submitted_at"] = application.submitted_at or timezone.now()
        values["screening_round"] = application.screening_round or 1
    if status == AppStatus.APPROVED:
        values["granted_millicredits"] = application.requested_millicredits
    Application.objects.filter(pk=application.pk).update(**values)
    application.refresh_from_db()
    return application
