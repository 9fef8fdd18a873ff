"""Which raw columns a spec reads has one answer (`spec_inputs`): the checks of a file, the typed outputs of
predict, a served model's metadata and the checks of a request body all ask it."""

from __future__ import annotations

import polars as pl
import pytest

from wdcli.errors import MissingColumns
from wdcli.features.inputs import check_columns, spec_inputs
from wdcli.spec import Spec

SPEC = {
    "data": {"train": "x.csv"},
    "label": {"column": "clicked", "weight": "w"},
    "columns": {
        "age_b": {"kind": "bucketized", "source": "age", "boundaries": [30, 50]},
        "installed": {"kind": "multivalent", "separator": "|", "weights": "installed_w"},
        "country": "categorical",
        "age": "numeric",
        "hours": {"kind": "bucketized", "source": "hours", "boundaries": [40]},
    },
}


def test_every_raw_column_once_with_how_it_is_read_and_who_needs_it():
    spec = Spec.model_validate(SPEC)
    got = {column: (needs.reads, needs.needed_by) for column, needs in spec_inputs(spec).items()}
    assert got == {
        "age": ("numeric", ("columns.age", "columns.age_b.source")),  # its own declaration first
        "installed": ("multivalent", ("columns.installed",)),
        "installed_w": ("weights", ("columns.installed.weights",)),
        "country": ("categorical", ("columns.country",)),
        "hours": ("numeric", ("columns.hours.source",)),  # a source read only through its buckets
    }
    with_label = spec_inputs(spec, label=True)
    assert list(with_label)[-2:] == ["clicked", "w"] and with_label["w"].reads == "weight"


def test_the_check_names_what_the_frame_came_from():
    spec = Spec.model_validate(SPEC)
    frame = pl.DataFrame({"age": [1.0], "installed": ["a"], "installed_w": ["1"], "country": ["us"]})
    with pytest.raises(MissingColumns, match=r"missing column 'hours' \(needed by columns.hours.source\)"):
        check_columns(spec, frame, "x.csv", need_label=False)
    with pytest.raises(MissingColumns, match="The request has: age, installed"):
        check_columns(spec, frame, "request", need_label=False, what="request")


def test_a_list_column_of_nulls_alone_is_every_rows_list_missing():
    """A request (or a file) whose list column holds only nulls (JSON null in every row: no row has values) has
    that column as polars' Null type, no list: it reads as a missing list in every row, through the check, the
    transform and the serving encoder alike; a column of text where lists belong is told to a client in its
    own terms (send JSON lists), not as a spec change."""
    import numpy as np

    from wdcli.features import fit_pipeline, transform
    from wdcli.features.encoder import Encoder

    spec = Spec.model_validate(
        {
            "data": {"train": "x.parquet"},
            "label": {"column": "y"},
            "columns": {"tags": "multivalent", "c": "categorical"},
        }
    )
    rows = pl.DataFrame({"tags": [["a", "b"], ["b"], [], ["a"]] * 5, "c": ["u", "v"] * 10, "y": [0, 1] * 10})
    fitted = fit_pipeline(spec, rows)
    nulls = pl.DataFrame({"tags": [None, None], "c": ["u", "v"]})
    assert nulls.schema["tags"] == pl.Null
    check_columns(spec, nulls, "request", need_label=False, what="request")
    for got in (transform(fitted, nulls, "request", with_label=False), Encoder(fitted)(nulls, "request")):
        bag = got.multi["tags"]
        assert len(bag.ids) == 0 and np.array_equal(bag.offsets, [0, 0, 0])
        np.testing.assert_array_equal(
            got.sparse,
            transform(fitted, nulls.with_columns(tags=pl.lit(None, pl.List(pl.String))), with_label=False).sparse,
        )
    text = pl.DataFrame({"tags": ["a", "b"], "c": ["u", "v"]})
    with pytest.raises(Exception, match=r"column 'tags' holds no lists; send each row's values as a JSON list"):
        check_columns(spec, text, "request", need_label=False, what="request")
    with pytest.raises(Exception, match=r"give columns.tags.separator"):
        check_columns(spec, text, "x.csv", need_label=False)
