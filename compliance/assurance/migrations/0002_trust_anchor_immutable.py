"""The database itself refuses to change or remove a trust anchor or a signed-off reference dataset.

PostgreSQL (production, CI) and SQLite (the embedded default) each get a trigger. TRUNCATE, which
test runs use to empty tables, is not a row operation and is not affected.
"""

from django.db import migrations

POSTGRES_CREATE = """
CREATE OR REPLACE FUNCTION assurance_anchor_immutable() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'a trust anchor cannot be changed after sign-off (% refused)', TG_OP;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER assurance_trustanchor_immutable
    BEFORE UPDATE OR DELETE ON assurance_trustanchor
    FOR EACH ROW EXECUTE FUNCTION assurance_anchor_immutable();
CREATE TRIGGER assurance_reference_signed_immutable
    BEFORE UPDATE OR DELETE ON assurance_referencedataset
    FOR EACH ROW WHEN (OLD.status = 'signed_off')
    EXECUTE FUNCTION assurance_anchor_immutable();
"""

POSTGRES_DROP = """
DROP TRIGGER IF EXISTS assurance_trustanchor_immutable ON assurance_trustanchor;
DROP TRIGGER IF EXISTS assurance_reference_signed_immutable ON assurance_referencedataset;
DROP FUNCTION IF EXISTS assurance_anchor_immutable();
"""

SQLITE_CREATE = [
    f"""
    CREATE TRIGGER assurance_{name}_{op.lower()}_refused BEFORE {op} ON {table}
    FOR EACH ROW {when}
    BEGIN SELECT RAISE(ABORT, 'a trust anchor cannot be changed after sign-off ({op} refused)'); END;
    """
    for name, table, when in (
        ("trustanchor", "assurance_trustanchor", ""),
        ("reference", "assurance_referencedataset", "WHEN OLD.status = 'signed_off'"),
    )
    for op in ("UPDATE", "DELETE")
]

SQLITE_DROP = [
    f"DROP TRIGGER IF EXISTS assurance_{name}_{op.lower()}_refused"
    for name in ("trustanchor", "reference")
    for op in ("UPDATE", "DELETE")
]


def forwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES_CREATE, params=None)
    elif vendor == "sqlite":
        for statement in SQLITE_CREATE:
            schema_editor.execute(statement, params=None)


def backwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES_DROP, params=None)
    elif vendor == "sqlite":
        for statement in SQLITE_DROP:
            schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [("assurance", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards)]
