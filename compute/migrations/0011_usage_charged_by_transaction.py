"""A usage transaction names the allocation it charged; one composite foreign key holds a usage
record to its transaction and allocation (PostgreSQL).

(transaction_id, allocation_id) references compute_transaction (id, allocation_id): the
transaction exists and charged the record's allocation. It replaces the two single-column keys,
one check per record instead of two. See ``UsageRecord``.
"""

import importlib

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import OuterRef, Subquery

CONSTRAINT = "usage_charged_by_transaction"


def name_the_allocations(apps, schema_editor):
    """Every usage transaction so far charged the allocation of its records (one job, or one
    batch on one allocation)."""
    if schema_editor.connection.vendor == "postgresql":
        # Checked now rather than at commit: ALTER TABLE refuses a table with pending checks.
        schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        schema_editor.execute(
            "UPDATE compute_transaction t SET allocation_id = u.allocation_id"
            " FROM (SELECT DISTINCT transaction_id, allocation_id FROM compute_usagerecord) u"
            " WHERE t.id = u.transaction_id"
        )
        schema_editor.execute("SET CONSTRAINTS ALL DEFERRED")
        return
    Transaction = apps.get_model("compute", "Transaction")
    UsageRecord = apps.get_model("compute", "UsageRecord")
    records = UsageRecord.objects.filter(transaction=OuterRef("pk")).values("allocation_id")[:1]
    Transaction.objects.filter(usage_records__isnull=False).update(allocation=Subquery(records))


# SQLite rebuilds a table to add a constraint or drop a column, and cannot rebuild
# compute_transaction under the call totals trigger of 0005 on compute_entry, which refers to it:
# the trigger is dropped first and created again afterwards (as in 0007).
_call_totals = importlib.import_module("compute.migrations.0005_call_totals")


def sqlite_drop_call_totals_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute("DROP TRIGGER IF EXISTS compute_call_totals_add", params=None)


def sqlite_create_call_totals_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        sqlite_drop_call_totals_trigger(apps, schema_editor)
        for statement in _call_totals.SQLITE:
            schema_editor.execute(statement, params=None)


def add_composite_key(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return  # SQLite cannot add a foreign key to an existing table; the demo goes without
    schema_editor.execute(
        f"ALTER TABLE compute_usagerecord ADD CONSTRAINT {CONSTRAINT}"
        " FOREIGN KEY (transaction_id, allocation_id) REFERENCES compute_transaction (id, allocation_id)"
        " DEFERRABLE INITIALLY DEFERRED"
    )


def drop_composite_key(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE compute_usagerecord DROP CONSTRAINT {CONSTRAINT}")


class Migration(migrations.Migration):
    dependencies = [
        ("compute", "0010_usage_resource_of_provider"),
    ]

    operations = [
        migrations.RunPython(sqlite_drop_call_totals_trigger, sqlite_create_call_totals_trigger),
        migrations.AddField(
            model_name="transaction",
            name="allocation",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="usage_transactions",
                to="compute.allocation",
            ),
        ),
        migrations.RunPython(name_the_allocations, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="transaction",
            constraint=models.UniqueConstraint(fields=("id", "allocation"), name="transaction_allocation_pair_unique"),
        ),
        migrations.AlterField(
            model_name="usagerecord",
            name="allocation",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="usage_records",
                to="compute.allocation",
            ),
        ),
        migrations.AlterField(
            model_name="usagerecord",
            name="transaction",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="usage_records",
                to="compute.transaction",
            ),
        ),
        migrations.RunPython(sqlite_create_call_totals_trigger, sqlite_drop_call_totals_trigger),
        migrations.RunPython(add_composite_key, drop_composite_key),
    ]
