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
