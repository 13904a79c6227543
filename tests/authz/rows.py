"""All rows of the matrix, gathered from the per-app modules."""

from importlib import import_module

MODULES = (
    "matrix_platform",
    "matrix_hubs",
    "matrix_compute",
    "matrix_pilots",
    "matrix_clinics",
    "matrix_events",
    "matrix_hubs_areas",
    "matrix_compliance",
    "matrix_assurance",
    "matrix_admin",
)

# URL names whose rows are not written yet (each with the reason), while working on them: the
# completeness tests accept them, ``test_nothing_is_left_incomplete`` does not. Keep it empty.
INCOMPLETE: dict[str, str] = {}

ROWS = [row for module in MODULES for row in import_module(f"{__package__}.{module}").ROWS]
