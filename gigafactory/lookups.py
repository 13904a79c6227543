"""``field__in_array=<queryset>``: ``field IN (subquery)`` that PostgreSQL evaluates once, into
an array, before it scans: ``field = ANY(ARRAY(subquery))``.

Why: an OR of ``x IN (SELECT ...)`` with other conditions (``hub_id IN (1) OR project_id IN
(SELECT project_id FROM compute_projectmember WHERE user_id = 7)``) becomes a hashed SubPlan
that PostgreSQL can only test row by row, so the OR scans the whole table (100,000
applications for every page of a staff list). ``= ANY($array)`` is an index condition: the OR
becomes a BitmapOr of index scans. Meant for small sets (a person's projects, reviews, a
partner's providers). SQLite, which plans the same OR with indexes anyway, gets the plain
``IN (subquery)``; so does a list of values.
"""

from django.db.models import Field, ForeignObject
from django.db.models.fields.related_lookups import RelatedIn
from django.db.models.lookups import In


class _AnyArray:
    lookup_name = "in_array"

    def as_postgresql(self, compiler, connection):
        if self.rhs_is_direct_value():
            return self.as_sql(compiler, connection)
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} = ANY(ARRAY{rhs})", (*lhs_params, *rhs_params)


@Field.register_lookup
class InArray(_AnyArray, In):
    pass


@ForeignObject.register_lookup
class RelatedInArray(_AnyArray, RelatedIn):
    pass
