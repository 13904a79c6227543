"""The demo seed: runs with history for the essay's systems, idempotent, skipping what is missing."""

from compliance.assurance import demo
from compliance.assurance.models import DriftBatch, FairnessCheck, TrustAnchor
from compliance.models import BoardMember, ChecklistItem

from .conftest import make_system


def test_seed_adds_history_once_and_skips_missing_systems(hub, member, board):
    make_system(hub, member, name="Lyon hospital mammography triage")
    make_system(hub, member, name="Retail chatbot")
    assert BoardMember.objects.filter(hub=hub).exists()
    lines = []
    demo.seed(lines.append)
    assert FairnessCheck.objects.count() == 3 + 2
    assert FairnessCheck.objects.filter(passed=False).exists()
    assert FairnessCheck.objects.filter(passed=True).exists()
    assert TrustAnchor.objects.count() == 2
    assert DriftBatch.objects.count() == 12
    assert DriftBatch.objects.filter(drifted=True).exists()
    assert DriftBatch.objects.filter(drifted=False).exists()
    assert ChecklistItem.objects.filter(section="corrective").exists()
    assert any("skipped" in line for line in lines)
    demo.seed(lines.append)
    assert (FairnessCheck.objects.count(), TrustAnchor.objects.count(), DriftBatch.objects.count()) == (5, 2, 12)


def test_seed_without_systems_does_nothing(db):
    lines = []
    demo.seed(lines.append)
    assert FairnessCheck.objects.count() == 0
    assert lines[-1].startswith("no demo AI systems")
