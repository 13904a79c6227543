"""Small builders for the usage, Slurm and expiry tests: a provider with resources, a funded
call, and allocations granted through the ledger (as the approval service does), without
going through the application workflow."""

import datetime as dt
import itertools

from django.utils import timezone

from compute import ledger
from compute.models import (
    Allocation,
    Application,
    AppStatus,
    Call,
    ComputeProvider,
    ComputeResource,
    FundingSource,
    Project,
    ProjectMember,
    ProjectRole,
    Track,
    TransactionKind,
)
from hubs.models import PartnerSystem
from tests.factories import HubFactory, UserFactory

_seq = itertools.count(1)


def make_provider(*, hub=None, name=None, contact_email="ops@hpc.example.org") -> ComputeProvider:
    hub = hub or HubFactory()
    n = next(_seq)
    partner = PartnerSystem.objects.create(
        hub=hub, name=f"Partner {n}", kind=PartnerSystem.Kind.HPC_CENTRE, contact_email=contact_email
    )
    return ComputeProvider.objects.create(name=name or f"HPC centre {n}", hub=hub, partner=partner)


def make_resource(*, provider, name=None, rate=1000, partition="") -> ComputeResource:
    n = next(_seq)
    return ComputeResource.objects.create(
        provider=provider,
        hub=provider.hub,
        name=name or f"Cluster {n}",
        gpu_model="NVIDIA H100 80GB",
        rate_millicredits=rate,
        slurm_partition=partition,
    )


def make_call(*, hub, resources=(), budget=1_000_000_000, track=Track.FAST_LANE) -> Call:
    """An open call with ``budget`` millicredits funded from a funding source."""
    n = next(_seq)
    now = timezone.now()
    source = FundingSource.objects.create(name=f"Programme {n}", hub=hub)
    call = Call.objects.create(
        hub=hub,
        funding_source=source,
        title=f"Call {n}",
        slug=f"call-{n}",
        track=track,
        opens_at=now - dt.timedelta(days=30),
        closes_at=now + dt.timedelta(days=30),
        max_request_millicredits=10**12,
    )
    call.eligible_resources.set(resources)
    if budget:
        fund_call(call, budget)
    return call


def fund_call(call, amount: int, *, key=None):
    return ledger.transfer(
        kind=TransactionKind.FUND,
        idempotency_key=key or f"fund:{call.pk}:{next(_seq)}",
        source=ledger.funding_account(call.funding_source),
        target=ledger.call_account(call),
        amount=amount,
    )


def make_project(*, hub, pi=None, members=()) -> Project:
    pi = pi or UserFactory()
    project = Project.objects.create(hub=hub, title=f"Project {next(_seq)}", pi=pi)
    ProjectMember.objects.create(project=project, user=pi, role=ProjectRole.PI)
    for user in members:
        ProjectMember.objects.create(project=project, user=user)
    return project


def make_allocation(
    *,
    call,
    granted: int,
    project=None,
    slurm_account="",
    starts_on=None,
    ends_on=None,
) -> Allocation:
    """An approved application's allocation, granted from the call budget through the ledger."""
    project = project or make_project(hub=call.hub)
    today = timezone.localdate()
    application = Application.objects.create(
        project=project,
        call=call,
        hub=call.hub,
        applicant=project.pi,
        title=f"Application {next(_seq)}",
        status=AppStatus.APPROVED,
        requested_millicredits=granted,
        granted_millicredits=granted,
        civilian_use=True,
        decided_at=timezone.now(),
    )
    allocation = Allocation.objects.create(
        application=application,
        project=project,
        call=call,
        hub=call.hub,
        granted_millicredits=granted,
        starts_on=starts_on or today - dt.timedelta(days=10),
        ends_on=ends_on or today + dt.timedelta(days=80),
        slurm_account=slurm_account,
    )
    ledger.transfer(
        kind=TransactionKind.GRANT,
        idempotency_key=f"grant:{allocation.pk}",
        source=ledger.call_account(call),
        target=ledger.allocation_account(allocation),
        amount=granted,
    )
    return allocation


def usage_setup(*, hub=None, rate=1000, granted=100_000, members=()):
    """provider, resource, call and one allocation of ``granted`` millicredits on it."""
    hub = hub or HubFactory()
    provider = make_provider(hub=hub)
    resource = make_resource(provider=provider, rate=rate, partition="gpu")
    call = make_call(hub=hub, resources=[resource])
    project = make_project(hub=hub, members=members)
    allocation = make_allocation(call=call, granted=granted, project=project)
    return provider, resource, call, allocation


def record(resource, allocation, external_id, *, gpu_hours=None, gpu_seconds=None, start=None, hours_long=1):
    start = start or dt.datetime(2026, 3, 1, 10, 0, tzinfo=dt.UTC)
    data = {
        "resource": resource.pk,
        "allocation": allocation.pk,
        "external_id": str(external_id),
        "user": "alice",
        "start": start.isoformat(),
        "end": (start + dt.timedelta(hours=hours_long)).isoformat(),
    }
    if gpu_hours is not None:
        data["gpu_hours"] = gpu_hours
    if gpu_seconds is not None:
        data["gpu_seconds"] = gpu_seconds
    if gpu_hours is None and gpu_seconds is None:
        data["gpu_seconds"] = 3600
    return data


def assert_ledger_consistent():
    """Every transaction sums to zero, every balance equals the sum of its entries, and no call
    budget or allocation is below zero."""
    from django.db.models import Sum

    from compute.models import GUARDED_KINDS, Account, Entry

    unbalanced = list(ledger.unbalanced_transactions().values_list("pk", "total"))
    assert unbalanced == []
    sums = dict(Entry.objects.values_list("account_id").annotate(total=Sum("amount")))
    for account in Account.objects.all():
        assert account.balance == sums.get(account.pk, 0), f"{account} balance differs from its entries"
        if account.kind in GUARDED_KINDS:
            assert account.balance >= 0, f"{account} is below zero"
    assert sum(sums.values()) == 0
