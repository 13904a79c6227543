"""Template helpers of the assurance pages and of the panels other apps include."""

from django import template

from .. import selectors

register = template.Library()

TEST_NAMES = {"ks": "Kolmogorov-Smirnov", "chi_square": "Chi-square", "jensen_shannon": "Jensen-Shannon"}


@register.simple_tag
def assurance_summary(system):
    """Latest fairness and drift figures of ``system`` (see ``selectors.dossier_summary``)."""
    return selectors.dossier_summary(system)


@register.filter
def metric(value, digits=3):
    """A rate or statistic for display; an em dash when undefined."""
    if value is None or value == "":
        return "—"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return value
    if number != 0 and abs(number) < 0.001:
        return f"{number:.2e}"
    return f"{number:.{int(digits)}f}"


@register.filter
def percent(value):
    if value is None:
        return "—"
    return f"{100 * float(value):.1f} %"


@register.filter
def verdict(value):
    return {True: "pass", False: "fail"}.get(value, "not computable")


@register.filter
def test_name(value):
    return TEST_NAMES.get(value, value)


@register.filter
def get_item(mapping, key):
    return (mapping or {}).get(key)


@register.filter
def system_url(system) -> str:
    """The compliance page of ``system`` (empty while that page does not exist)."""
    from django.urls import NoReverseMatch

    try:
        return system.get_absolute_url()
    except NoReverseMatch:
        return ""
