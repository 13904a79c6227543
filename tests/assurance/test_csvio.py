"""Reading uploads: every bad input names the column, row or limit."""

import pytest
from django.core.exceptions import ValidationError

from compliance.assurance import csvio


def message(exc_info):
    return " ".join(m for messages in exc_info.value.message_dict.values() for m in messages)


def test_reads_comma_and_semicolon_csv_with_bom():
    table = csvio.read_csv("\ufeffa;b\n1;x\n2;y\n".encode())
    assert table.columns == ["a", "b"]
    assert table.values["b"] == ["x", "y"]
    assert csvio.read_csv(b"a,b\r\n1,2\r\n\r\n").row_count == 1


def test_not_utf8_names_the_line():
    data = "label,sex\n1,f\n0,m\u00e9\n".encode("latin-1")
    with pytest.raises(ValidationError) as exc:
        csvio.read_csv(data)
    assert "not UTF-8" in message(exc)
    assert "line 3" in message(exc)


def test_over_the_size_limit_names_the_limit(settings):
    settings.ASSURANCE_MAX_UPLOAD_BYTES = 1024
    with pytest.raises(ValidationError) as exc:
        csvio.read_csv(b"a\n" + b"1\n" * 1000)
    assert "the limit is 1 KB" in message(exc)


def test_too_many_rows(settings):
    settings.ASSURANCE_MAX_ROWS = 3
    with pytest.raises(ValidationError) as exc:
        csvio.read_csv(b"a\n1\n2\n3\n4\n")
    assert "limit is 3" in message(exc)


def test_ragged_row_and_header_problems():
    with pytest.raises(ValidationError) as exc:
        csvio.read_csv(b"a,b\n1,2\n3\n")
    assert "Line 3 has 1 cells; the header has 2" in message(exc)
    with pytest.raises(ValidationError) as exc:
        csvio.read_csv(b"a,a\n1,2\n")
    assert "'a' appears twice" in message(exc)
    with pytest.raises(ValidationError) as exc:
        csvio.read_csv(b"a,b\n")
    assert "no data rows" in message(exc)
    with pytest.raises(ValidationError):
        csvio.read_csv(b"")


def test_misnamed_column_suggests_the_close_one():
    table = csvio.read_csv(b"true_label,pred,sex\n1,1,f\n")
    with pytest.raises(ValidationError) as exc:
        table.column("true_lable", role="true label", field_name="label_column")
    assert exc.value.message_dict.keys() == {"label_column"}
    assert "Column 'true_lable' (true label) is not in the file" in message(exc)
    assert "Did you mean 'true_label'?" in message(exc)


def test_binary_labels():
    table = csvio.read_csv(b"y,w\n1,approved\nfalse,denied\nYes,approved\n")
    assert csvio.binary_column(table, "y", role="true label", field_name="f") == [1, 0, 1]
    assert csvio.binary_column(table, "w", role="true label", field_name="f", positive="approved") == [1, 0, 1]
    with pytest.raises(ValidationError) as exc:
        csvio.binary_column(table, "w", role="true label", field_name="f")
    assert "line 2 has 'approved'" in message(exc)
    bad = csvio.read_csv(b"y\n0\n1\n2\n")
    with pytest.raises(ValidationError) as exc:
        csvio.binary_column(bad, "y", role="predicted label", field_name="f")
    assert "Column 'y' (predicted label) must be binary" in message(exc)
    assert "line 4 has '2'" in message(exc)
    three = csvio.read_csv(b"y\na\nb\nc\n")
    with pytest.raises(ValidationError) as exc:
        csvio.binary_column(three, "y", role="true label", field_name="f", positive="a")
    assert "3 different values" in message(exc)


def test_groups_need_rows_and_at_least_two():
    table = csvio.read_csv(b"sex,one\nf,x\nm,x\nf,x\n")
    assert csvio.group_column(table, "sex", field_name="s") == ["f", "m", "f"]
    with pytest.raises(ValidationError) as exc:
        csvio.group_column(table, "sex", field_name="s", expected=["f", "m", "x"])
    assert "Group 'x' of column 'sex' has no rows" in message(exc)
    with pytest.raises(ValidationError) as exc:
        csvio.group_column(table, "one", field_name="s")
    assert "only one group" in message(exc)
    empty = csvio.read_csv(b"sex,y\nf,1\n,0\n")
    with pytest.raises(ValidationError) as exc:
        csvio.group_column(empty, "sex", field_name="s")
    assert "empty on line 3" in message(exc)


def test_json_rows():
    table = csvio.read_json_rows([{"a": 1, "b": "x"}, {"a": 2.5, "b": None}])
    assert table.values == {"a": [1, 2.5], "b": ["x", None]}
    with pytest.raises(ValidationError) as exc:
        csvio.read_json_rows([{"a": 1}, {"b": 2}])
    assert exc.value.message_dict.keys() == {"rows"}
    assert "Row 2 does not have the same fields as row 1 (missing a; unexpected b)" in message(exc)
    with pytest.raises(ValidationError):
        csvio.read_json_rows([])
    with pytest.raises(ValidationError) as exc:
        csvio.read_json_rows([{"a": [1]}])
    assert "Row 1, field 'a'" in message(exc)


def test_number_column_names_the_row():
    table = csvio.read_csv(b"s\n0.5\nhigh\n")
    with pytest.raises(ValidationError) as exc:
        csvio.number_column(table, "s", role="score", field_name="score_column")
    assert "needs a number on line 3, not 'high'" in message(exc)


def test_a_column_cannot_play_two_roles():
    with pytest.raises(ValidationError) as exc:
        csvio.check_distinct([("true label", "y"), ("predicted label", "y")], field_name="prediction_column")
    assert "mapped twice" in message(exc)
