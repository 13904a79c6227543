"""One composite foreign key for a usage record's provider and resource (PostgreSQL).

(provider_id, resource_id) references compute_computeresource (provider_id, id): the resource
exists and belongs to the record's provider. It replaces the two single-column keys, one check
per record instead of two. See ``UsageRecord``.
"""

import django.db.models.deletion
from django.db import migrations, models

CONSTRAINT = "usage_resource_of_provider"


def add_composite_key(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return  # SQLite cannot add a foreign key to an existing table; the demo goes without
    schema_editor.execute(
        f"ALTER TABLE compute_usagerecord ADD CONSTRAINT {CONSTRAINT}"
        " FOREIGN KEY (provider_id, resource_id) REFERENCES compute_computeresource (provider_id, id)"
        " DEFERRABLE INITIALLY DEFERRED"
    )


def drop_composite_key(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE compute_usagerecord DROP CONSTRAINT {CONSTRAINT}")


class Migration(migrations.Migration):
    dependencies = [
        ("compute", "0009_application_submitted_queue_idx"),
        ("hubs", "0001_initial"),
    ]

    operations = [
        migrations.AddConstraint(
            model_name="computeresource",
            constraint=models.UniqueConstraint(fields=("provider", "id"), name="resource_provider_pair_unique"),
        ),
        migrations.AlterField(
            model_name="usagerecord",
            name="provider",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="usage_records",
                to="compute.computeprovider",
            ),
        ),
        migrations.AlterField(
            model_name="usagerecord",
            name="resource",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="usage_records",
                to="compute.computeresource",
            ),
        ),
        migrations.RunPython(add_composite_key, drop_composite_key),
    ]
