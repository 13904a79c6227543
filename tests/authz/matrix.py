"""Rows of the authorization matrix and the shorthands used to write them.

An expectation is a string per role: one letter for the hub-A object, one for the hub-B object.

    y  allowed: a 2xx or 3xx answer that is not a bounce to the login page; for POST/PUT/PATCH/
       DELETE also a 400 or 409 (authorized, but the input or the object's state is wrong);
       a row with ``effect=`` is allowed only when the write happened
    n  denied: 401, 403 or 404, or a redirect to the login page
    h  hidden (lists): answered, but the object is not in the answer
    -  not applicable (the row has no per-hub object: only the first letter is checked)

Roles: see ``world.ROLES``. For browser pages an API key counts for nothing (the page sees an
anonymous visitor), so ``page()`` copies the anonymous expectation to the two key roles unless
a row says otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .world import ROLES


@dataclass(frozen=True)
class Row:
    method: str
    name: str
    """URL name as ``reverse()`` takes it (``"compute:project_detail"``, ``"api-project-list"``)."""
    expect: dict[str, str]
    args: Callable[[Any, Any], dict] | None = None
    """``(world, side) -> URL kwargs`` addressing the object of that side's hub; ``None``: no object."""
    data: Callable[[Any, Any], dict] | dict | None = None
    """Request body: a form for pages, JSON for the API."""
    marker: Callable[[Any, Any], str] | None = None
    """``(world, side) -> text`` that is in the answer only when the side's object is shown."""
    query: str = ""
    api: bool = False
    effect: Callable[[Any, Any], bool] | None = None
    """``(world, side) -> bool``: did the request change the object? When given, it alone decides
    a case that was not refused outright (401/403/404, login): changed is allowed, unchanged is
    denied, whatever the status (views that refuse with a message and a redirect, forms that
    ignore a foreign id). The row's ``data`` must then be a write that succeeds when allowed."""
    variant: str = ""
    """Tells apart two rows of one operation about different objects (``"unpublished call"``)."""
    note: str = field(default="", compare=False)

    @property
    def key(self) -> tuple[str, str]:
        return (self.method, self.name)

    @property
    def per_side(self) -> bool:
        """Whether the row is run once per hub (it addresses, shows or sends a hub's object)."""
        return bool(self.args or self.marker or callable(self.data) or self.effect)


def expect(default: str, **roles: str) -> dict[str, str]:
    unknown = set(roles) - set(ROLES)
    assert not unknown, f"unknown roles {unknown}"
    table = {role: roles.get(role, default) for role in ROLES}
    lengths = {len(v) for v in table.values()}
    assert len(lengths) == 1, f"mixed lengths in {table}"
    return table


def page(
    method, name, default="", *, args=None, data=None, marker=None, query="", note="", effect=None, variant="", **roles
) -> Row:
    """A browser page: the two key roles see what an anonymous visitor sees unless told."""
    default = roles.pop("default", default)
    roles.setdefault("partner_a", roles.get("anon", default))
    roles.setdefault("personal", roles.get("anon", default))
    return Row(method, name, expect(default, **roles), args, data, marker, query, False, effect, variant, note)


def api(
    method, name, default="", *, args=None, data=None, marker=None, query="", note="", effect=None, variant="", **roles
) -> Row:
    """An API operation: sessions and keys both authenticate."""
    default = roles.pop("default", default)
    return Row(method, name, expect(default, **roles), args, data, marker, query, True, effect, variant, note)


# Shorthands for who may do what, as keyword arguments to page()/api(). Each one is a dict so a
# row can still override a role: ``page("GET", "x", **STAFF_OF_HUB, superuser="yn")``.
# The staff of the object's hub and superusers.
STAFF_OF_HUB = {"default": "nn", "staff_a": "yn", "staff_b": "ny", "superuser": "yy"}
# Hub-A data owned by member_a (with their personal key), hub-B data owned by member_b, and staff.
OWNER_AND_STAFF = {**STAFF_OF_HUB, "member_a": "yn", "member_b": "ny"}
OWNER_ONLY = {"default": "nn", "member_a": "yn", "member_b": "ny"}
EVERYONE = {"default": "yy"}
SIGNED_IN = {"default": "yy", "anon": "nn"}


def listing(table: dict[str, str], *, refused=("anon",)) -> dict[str, str]:
    """The list version of an access ``table``: whoever may not open an object finds the list
    without it ("h") instead of being refused, except the ``refused`` roles (who get no list)."""
    listed = {role: e.replace("n", "h") for role, e in table.items()}
    for role in refused:
        listed[role] = "n" * len(table.get("default", "nn"))
    return listed


# What a hub publishes (calls, resources, showcase, clinic slots, events, news, the hub itself):
# hub A is public, hub B private (``people.py``), so B's is seen only by its members and
# superusers. API keys read their own hub only.
PUBLISHED = {"default": "yn", "member_b": "yy", "staff_b": "yy", "superuser": "yy"}
PUBLISHED_LIST = listing(PUBLISHED, refused=())
