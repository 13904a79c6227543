from django import template

from pilots.charts import number

register = template.Library()


@register.filter
def num(value):
    """A measured value as people write it: 1,234.5 (no trailing zeros, no exponent)."""
    return number(value)
