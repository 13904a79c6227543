"""On PostgreSQL the database itself refuses to change or remove audit events."""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION gigafactory_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only (% refused)', TG_OP;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER gigafactory_auditevent_append_only
    BEFORE UPDATE OR DELETE ON gigafactory_auditevent
    FOR EACH ROW EXECUTE FUNCTION gigafactory_audit_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS gigafactory_auditevent_append_only ON gigafactory_auditevent;
DROP FUNCTION IF EXISTS gigafactory_audit_append_only();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("gigafactory", "0002_initial")]

    operations = [migrations.RunPython(forwards, backwards)]
