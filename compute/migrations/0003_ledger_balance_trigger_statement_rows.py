"""Make the "every transaction is balanced" trigger check only the rows of the statement.

The first version summed, for each transaction in the statement, all of its rows in
``compute_entry``. The planner plans that join against the table's statistics at the time,
and on a young or fast-growing table it chose a nested loop over the whole table for every
new transaction: a 10,000-record usage batch (20,000 entries) spent ~10 s in the trigger.

Checking the statement's own rows is O(rows inserted) and guarantees the same invariant:
entries are append-only, so if the rows every INSERT adds to a transaction sum to zero, every
transaction always sums to zero. (``compute.ledger`` inserts all entries of a transaction in
one statement, so no legitimate write adds a partial set.)
"""

from django.db import migrations

NEW = """
CREATE OR REPLACE FUNCTION compute_entries_balanced() RETURNS trigger AS $$
DECLARE bad bigint;
BEGIN
    SELECT n.transaction_id INTO bad
      FROM new_entries n
     GROUP BY n.transaction_id
    HAVING SUM(n.amount) <> 0
     LIMIT 1;
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'ledger transaction % is not balanced', bad USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
"""

OLD = """
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
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(NEW, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(OLD, params=None)


class Migration(migrations.Migration):
    dependencies = [("compute", "0002_ledger_guards")]

    operations = [migrations.RunPython(forwards, backwards)]
