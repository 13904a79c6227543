"""On PostgreSQL the database itself keeps the ledger honest: every INSERT statement on
entries must leave each transaction it touches balanced, and entries are never changed or
removed. ``compute.ledger`` writes all entries of a transaction in one statement."""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION compute_entries_balanced() RETURNS trigger AS $$
DECLARE bad bigint;
BEGIN
    SELECT e.transaction_id INTO bad
      FROM compute_entry e
     WHERE e.transaction_id IN (SELECT DISTINCT transaction_id FROM new_entries)
     GROUP BY e.transaction_id
    HAVING SUM(e.amount) <> 0
     LIMIT 1;
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'ledger transaction % is not balanced', bad USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER compute_entries_balanced
    AFTER INSERT ON compute_entry
    REFERENCING NEW TABLE AS new_entries
    FOR EACH STATEMENT EXECUTE FUNCTION compute_entries_balanced();

CREATE OR REPLACE FUNCTION compute_entries_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'ledger entries are append-only (% refused)', TG_OP;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER compute_entries_append_only
    BEFORE UPDATE OR DELETE ON compute_entry
    FOR EACH ROW EXECUTE FUNCTION compute_entries_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS compute_entries_balanced ON compute_entry;
DROP FUNCTION IF EXISTS compute_entries_balanced();
DROP TRIGGER IF EXISTS compute_entries_append_only ON compute_entry;
DROP FUNCTION IF EXISTS compute_entries_append_only();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("compute", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards)]
