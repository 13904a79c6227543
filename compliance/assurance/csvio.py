"""Reading uploaded tables (CSV files or JSON rows) with errors that name the problem.

Every error is a ``django.core.exceptions.ValidationError`` keyed by the form/API field it is about
(``file``, ``rows``, or a column-mapping field such as ``label_column``) and says which column, row
or limit is at fault, so the upload page and the API can show it as it is. Nothing here writes.

Rows are numbered as a spreadsheet shows them: in a CSV file the header is line 1 and the first
data row line 2; JSON rows are numbered from 1.
"""

import csv
import difflib
import io
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
MAX_ROWS = 100_000
MAX_COLUMNS = 200
MAX_GROUPS = 50
DELIMITERS = ",;\t"
TRUE_TOKENS = {"1", "true", "yes", "y", "t", "1.0"}
FALSE_TOKENS = {"0", "false", "no", "n", "f", "0.0"}


def max_upload_bytes() -> int:
    return int(getattr(settings, "ASSURANCE_MAX_UPLOAD_BYTES", MAX_UPLOAD_BYTES))


def max_rows() -> int:
    return int(getattr(settings, "ASSURANCE_MAX_ROWS", MAX_ROWS))


def human_size(n: int) -> str:
    for unit, size in (("MB", 1024 * 1024), ("KB", 1024)):
        if n >= size:
            return f"{n / size:.1f} {unit}".replace(".0 ", " ")
    return f"{n} bytes"


def fail(field_name: str, message: str):
    raise ValidationError({field_name: [message]})


@dataclass
class Table:
    """Column-wise values (strings from a CSV; scalars or None from JSON) and where rows came from."""

    columns: list[str]
    values: dict[str, list] = field(default_factory=dict)
    source: str = "csv"  # "csv" or "json"
    field_name: str = "file"

    @property
    def row_count(self) -> int:
        return len(self.values[self.columns[0]]) if self.columns else 0

    def row_label(self, index: int) -> str:
        """How a user finds row ``index`` (0-based) in what they sent."""
        return f"line {index + 2}" if self.source == "csv" else f"row {index + 1}"

    def column(self, name: str, *, role: str, field_name: str) -> list:
        """The values of ``name``, or an error naming the missing column (and a close match)."""
        if not name:
            fail(field_name, f"Choose the column that holds the {role}.")
        if name not in self.values:
            hint = difflib.get_close_matches(name, self.columns, n=1, cutoff=0.6)
            suggestion = f" Did you mean '{hint[0]}'?" if hint else ""
            fail(
                field_name,
                f"Column '{name}' ({role}) is not in the {self._what()}. Its columns are: "
                f"{', '.join(self.columns[:30])}.{suggestion}",
            )
        return self.values[name]

    def _what(self) -> str:
        return "file" if self.source == "csv" else "rows"


def decode(data: bytes, *, field_name: str = "file") -> str:
    """UTF-8 text (a BOM is dropped), or an error saying where the first bad byte is."""
    limit = max_upload_bytes()
    if len(data) > limit:
        fail(field_name, f"The file is {human_size(len(data))}; the limit is {human_size(limit)}.")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        fail(
            field_name,
            f"The file is not UTF-8 text: byte 0x{data[exc.start]:02x} on line {line} cannot be read. "
            "Save it as 'CSV UTF-8' and upload it again.",
        )
    raise AssertionError("unreachable")


def _check_header(header: list[str], field_name: str, what: str) -> list[str]:
    names = [h.strip() for h in header]
    if len(names) > MAX_COLUMNS:
        fail(field_name, f"The {what} has {len(names)} columns; the limit is {MAX_COLUMNS}.")
    for position, name in enumerate(names, start=1):
        if not name:
            fail(field_name, f"Column {position} of the header has no name.")
    seen = set()
    for name in names:
        if name in seen:
            fail(field_name, f"Column '{name}' appears twice in the header.")
        seen.add(name)
    return names


def read_csv(data: bytes, *, field_name: str = "file") -> Table:
    """A CSV file (comma, semicolon or tab separated, header on the first line) as a ``Table``."""
    text = decode(data, field_name=field_name)
    if not text.strip():
        fail(field_name, "The file is empty.")
    first_line = text.split("\n", 1)[0]
    delimiter = max(DELIMITERS, key=first_line.count) if any(d in first_line for d in DELIMITERS) else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
        names = _check_header(header, field_name, "file")
        values: dict[str, list] = {name: [] for name in names}
        limit = max_rows()
        for index, row in enumerate(reader):
            if not row or (len(row) == 1 and not row[0].strip()):
                continue  # blank line
            line = reader.line_num
            if len(row) != len(names):
                fail(field_name, f"Line {line} has {len(row)} cells; the header has {len(names)}.")
            if index >= limit:
                fail(field_name, f"The file has more than {limit:,} data rows; the limit is {limit:,}.")
            for name, cell in zip(names, row, strict=True):
                values[name].append(cell.strip())
    except csv.Error as exc:
        fail(field_name, f"The file is not valid CSV near line {reader.line_num}: {exc}.")
    table = Table(columns=names, values=values, source="csv", field_name=field_name)
    if table.row_count == 0:
        fail(field_name, "The file has a header but no data rows.")
    return table


def read_json_rows(rows, *, field_name: str = "rows") -> Table:
    """A list of JSON objects with the same keys, as a ``Table`` (values: str, number, bool or null)."""
    if not isinstance(rows, list):
        fail(field_name, "Send a list of objects, one per row.")
    if not rows:
        fail(field_name, "The list of rows is empty.")
    limit = max_rows()
    if len(rows) > limit:
        fail(field_name, f"{len(rows):,} rows sent; the limit is {limit:,} per request.")
    if not isinstance(rows[0], dict):
        fail(field_name, "Row 1 is not an object; send a list of objects, one per row.")
    names = _check_header([str(k) for k in rows[0]], field_name, "first row")
    values: dict[str, list] = {name: [] for name in names}
    expected = set(names)
    for index, row in enumerate(rows, start=1):
        if not isinstance(row, dict):
            fail(field_name, f"Row {index} is not an object.")
        keys = set(row)
        if keys != expected:
            missing, extra = sorted(expected - keys), sorted(keys - expected)
            detail = "; ".join(
                part
                for part in (
                    f"missing {', '.join(missing)}" if missing else "",
                    f"unexpected {', '.join(map(str, extra))}" if extra else "",
                )
                if part
            )
            fail(field_name, f"Row {index} does not have the same fields as row 1 ({detail}).")
        for name in names:
            value = row[name]
            if isinstance(value, dict | list):
                fail(field_name, f"Row {index}, field '{name}': a single value is expected, not a list or object.")
            if isinstance(value, float) and not math.isfinite(value):
                fail(field_name, f"Row {index}, field '{name}': not a finite number.")
            values[name].append(value)
    return Table(columns=names, values=values, source="json", field_name=field_name)


def _missing(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def binary_column(table: Table, name: str, *, role: str, field_name: str, positive: str = "") -> list[int]:
    """0/1 labels. Accepted: 0/1, true/false, yes/no; or any two values when ``positive`` names one."""
    values = table.column(name, role=role, field_name=field_name)
    positive = (positive or "").strip().lower()
    if positive:
        distinct = sorted({str(v).strip().lower() for v in values if not _missing(v)})
        if positive not in distinct:
            fail(field_name, f"Column '{name}' ({role}) never has the positive value '{positive}'.")
        if len(distinct) > 2:
            fail(
                field_name,
                f"Column '{name}' ({role}) must be binary but has {len(distinct)} different values: "
                f"{', '.join(distinct[:6])}{'…' if len(distinct) > 6 else ''}.",
            )
    labels = []
    for index, value in enumerate(values):
        if _missing(value):
            fail(field_name, f"Column '{name}' ({role}) is empty on {table.row_label(index)}.")
        token = ("true" if value else "false") if isinstance(value, bool) else str(value).strip().lower()
        if positive:
            labels.append(1 if token == positive else 0)
        elif token in TRUE_TOKENS:
            labels.append(1)
        elif token in FALSE_TOKENS:
            labels.append(0)
        else:
            fail(
                field_name,
                f"Column '{name}' ({role}) must be binary (0/1, true/false or yes/no), but "
                f"{table.row_label(index)} has '{value}'. If the labels are words, name the positive value.",
            )
    return labels


def number_column(table: Table, name: str, *, role: str, field_name: str) -> list[float]:
    values = table.column(name, role=role, field_name=field_name)
    numbers = []
    for index, value in enumerate(values):
        number = None
        if not _missing(value) and not isinstance(value, bool):
            try:
                number = float(value)
            except (TypeError, ValueError):
                number = None
        if number is None or not math.isfinite(number):
            fail(field_name, f"Column '{name}' ({role}) needs a number on {table.row_label(index)}, not '{value}'.")
        numbers.append(number)
    return numbers


def group_column(
    table: Table, name: str, *, field_name: str, expected: Iterable[str] = (), max_groups: int = MAX_GROUPS
) -> list[str]:
    """Group labels of a sensitive attribute: no empty cell, at least two groups, every expected
    group present, not more than ``max_groups`` groups."""
    role = "sensitive attribute"
    values = table.column(name, role=role, field_name=field_name)
    groups = []
    for index, value in enumerate(values):
        if _missing(value):
            fail(
                field_name,
                f"Column '{name}' ({role}) is empty on {table.row_label(index)}; "
                "give every row a group (use a value such as 'unknown' if needed).",
            )
        groups.append(("true" if value else "false") if isinstance(value, bool) else str(value).strip())
    distinct = set(groups)
    for group in expected:
        if group not in distinct:
            fail(field_name, f"Group '{group}' of column '{name}' has no rows.")
    if len(distinct) < 2:
        only = next(iter(distinct))
        fail(field_name, f"Column '{name}' has only one group ('{only}'); a fairness check compares two or more.")
    if len(distinct) > max_groups:
        fail(
            field_name,
            f"Column '{name}' has {len(distinct)} different values; at most {max_groups} groups are allowed. "
            "Is it really a sensitive attribute (and not an identifier)?",
        )
    return groups


def check_distinct(roles: Sequence[tuple[str, str]], *, field_name: str) -> None:
    """The same column may not play two roles (e.g. the true label and a sensitive attribute)."""
    seen: dict[str, str] = {}
    for role, name in roles:
        if not name:
            continue
        if name in seen:
            fail(field_name, f"Column '{name}' is mapped twice: as the {seen[name]} and as the {role}.")
        seen[name] = role
