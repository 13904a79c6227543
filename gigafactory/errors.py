"""Errors that every interface (pages, API, admin, tasks) knows how to present."""


class InvalidTransition(Exception):
    """A state change that is not allowed from the object's current state.

    The API answers it with HTTP 409, pages and the admin with an error message.
    """

    def __init__(self, obj, action: str, message: str | None = None):
        self.obj = obj
        self.action = action
        current = getattr(obj, "status", None)
        self.message = message or f"Cannot {action} {obj._meta.verbose_name} '{obj}' while it is {current}."
        super().__init__(self.message)
