"""``field__in_array=...``: ``field IN (...)`` as ``field = ANY(array)`` on PostgreSQL.

- **A queryset**: ``field = ANY(ARRAY(subquery))``, which PostgreSQL evaluates once, into an
  array, before it scans. Why: an OR of ``x IN (SELECT ...)`` with other conditions
  (``hub_id IN (1) OR project_id IN (SELECT project_id FROM compute_projectmember WHERE
  user_id = 7)``) becomes a hashed SubPlan that PostgreSQL can only test row by row, so the OR
  scans the whole table (100,000 applications for every page of a staff list). ``= ANY($array)``
  is an index condition: the OR becomes a BitmapOr of index scans. Meant for small sets (a
  person's projects, reviews, a partner's providers).
- **A list of values**: ``field = ANY(%s::type[])`` with the list as one parameter. A plain
  ``IN`` of 2,000 ids builds, sends and parses 2,000 placeholders: a usage batch of 10,000 jobs
  on 1,000 allocations spent more time there (Django preparing each value, psycopg splitting
  the query) than PostgreSQL took to answer.

SQLite, which plans the same OR with indexes anyway, gets the plain ``IN``.
"""

from django.core.exceptions import EmptyResultSet
from django.db.models import Field, ForeignObject
from django.db.models.expressions import ColPairs
from django.db.models.fields.related_lookups import RelatedIn
from django.db.models.lookups import In


class _AnyArray:
    lookup_name = "in_array"

    def as_postgresql(self, compiler, connection):
        if isinstance(self.lhs, ColPairs):
            return self.as_sql(compiler, connection)
        lhs, lhs_params = self.process_lhs(compiler, connection)
        if self.rhs_is_direct_value():
            field = self.lhs.output_field
            # NULL is never equal to anything (as ``In`` drops it); the values were prepared
            # by ``get_prep_lookup`` when the lookup was built.
            values = [field.get_db_prep_value(v, connection, prepared=True) for v in self.rhs if v is not None]
            if not values:
                raise EmptyResultSet
            return f"{lhs} = ANY(%s::{field.cast_db_type(connection)}[])", (*lhs_params, values)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} = ANY(ARRAY{rhs})", (*lhs_params, *rhs_params)


@Field.register_lookup
class InArray(_AnyArray, In):
    pass


@ForeignObject.register_lookup
class RelatedInArray(_AnyArray, RelatedIn):
    pass
