"""Bad data gives a clear error (exit 2, no traceback) that names the file or column and what to do;
merely unusual data (unseen values, nulls, extra columns) is scored."""

import hashlib
import json

import polars as pl
import pytest
from typer.testing import CliRunner

from wdcli.cli import app

from .conftest import SPECS

runner = CliRunner()
HEADER = "age,hours-per-week,capital-gain,education,occupation,native-country,educational-num,income\n"
ROW = "39,40,0,Bachelors,Adm-clerical,United-States,13,<=50K\n"
POS = "52,45,0,HS-grad,Exec-managerial,United-States,9,>50K\n"
GOOD = HEADER + (ROW + POS) * 20


def spec_for(tmp_path, data_text: bytes | str, name="data.csv") -> str:
    data = tmp_path / name
    data.write_bytes(data_text if isinstance(data_text, bytes) else data_text.encode())
    text = (SPECS / "tiny.yaml").read_text().replace("data/tiny.csv", name)
    spec = tmp_path / "spec.yaml"
    spec.write_text(text)
    return str(spec)


BAD_DATA = {
    "empty file": ("", "the file is empty"),
    "header only": (HEADER, "no rows to fit on"),
    "missing column": (
        GOOD.replace("education,", "educatoin,"),
        "missing column 'education' (needed by columns.education) (did you mean 'educatoin'?)",
    ),
    "numeric holds text": (
        GOOD.replace("39,40", "old,40"),
        "column 'age' is declared numeric but holds text such as 'old'",
    ),
    "numeric holds R's NA": (
        GOOD.replace("39,40", "NA,40"),
        "'NA' marks missing values: list it under defaults.numeric.missing (every numeric column), e.g. "
        "defaults: {numeric: {missing: ['NA']}}, or under columns.age.missing",
    ),
    "all-null column": (
        GOOD.replace("Bachelors", "").replace("HS-grad", ""),
        "column 'education' has no values (all missing)",
    ),
    "short ragged row": (GOOD + "1,2,3\n", "label column 'income' is missing in 1 rows"),
    "long ragged row": (GOOD + "1,2,3,4,5,6,7,8,9,10,11\n", "cannot be read as CSV"),
    "label with other values": (
        GOOD + "30,40,0,HS-grad,Sales,Mexico,9,maybe\n",
        "label column 'income' has 3 distinct values",
    ),
    "positive never occurs": (HEADER + ROW * 30, "label.positive '>50K' never occurs in column 'income'"),
    "non-UTF-8 bytes": ((GOOD + "30,40,0,HS-grad,Sales,M\xe9xico,9,<=50K\n").encode("latin-1"), "not valid UTF-8"),
    "no header": ((ROW + POS) * 20, "missing column"),
    "one-row training set": (HEADER + POS, "training needs at least 2"),
}


@pytest.mark.parametrize("case", list(BAD_DATA), ids=list(BAD_DATA))
def test_bad_training_data(case, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    text, expected = BAD_DATA[case]
    spec = spec_for(tmp_path, text)
    args = ["train", spec, "-q"] + (["--set", "data.split={validation: 0.0, test: 0.0}"] if "one-row" in case else [])
    r = runner.invoke(app, args)
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output
    assert expected in r.stderr, r.stderr
    runs = tmp_path / "runs"  # (runs/.cache, the encoded cache, may hold a fitted pipeline: no artifact)
    assert not runs.exists() or not list(runs.glob("[!.]*/2*")), "no artifact on failure"


def test_nan_inf_and_unusual_values_are_scored(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spec = spec_for(tmp_path, GOOD)
    assert runner.invoke(app, ["train", spec, "-q"]).exit_code == 0
    odd = pl.DataFrame(
        {
            "age": ["NaN", "inf", "-inf", "", "1e300"],
            "hours-per-week": ["40"] * 5,
            "capital-gain": ["0"] * 5,
            "education": ["Unseen", None, "x" * 100_000, "", "Bachelors"],
            "occupation": ["?", "Sales", "日本", None, "Adm-clerical"],
            "native-country": [None, "Atlantis", "?", "", "United-States"],
            "educational-num": ["13", "-5", "abc", "", "999"],
            "extra": [1, 2, 3, 4, 5],
        }
    )
    odd.write_csv(tmp_path / "odd.csv")
    r = runner.invoke(app, ["predict", "--input", str(tmp_path / "odd.csv")])
    assert r.exit_code == 0, r.output
    scores = pl.read_csv(r.stdout.encode())["score"]
    assert scores.len() == 5 and scores.is_between(0, 1).all() and scores.is_finite().all()


def test_rank_without_group_column(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spec = spec_for(tmp_path, GOOD)
    assert runner.invoke(app, ["train", spec, "-q"]).exit_code == 0
    r = runner.invoke(app, ["rank", "--input", str(tmp_path / "data.csv"), "--group-by", "request"])
    assert r.exit_code == 2 and "no group column 'request' (--group-by), so rank cannot tell whose" in r.stderr


def test_rank_refuses_candidates_of_no_group(tmp_path, monkeypatch):
    """A candidate whose group value is empty belongs to no one's list: rank names the row (once an internal
    error, a TypeError in the metrics)."""
    monkeypatch.chdir(tmp_path)
    spec = spec_for(tmp_path, GOOD)
    assert runner.invoke(app, ["train", spec, "-q"]).exit_code == 0
    (tmp_path / "c.csv").write_text(HEADER + ROW + POS + POS.replace("Exec-managerial", "") + ROW)
    r = runner.invoke(app, ["rank", "--input", "c.csv", "--group-by", "occupation"])
    assert r.exit_code == 2, r.output
    assert "c.csv: row 3 has no value in the group column 'occupation'" in r.stderr
    empty = POS.replace("Exec-managerial", "")
    (tmp_path / "c.csv").write_text(HEADER + ROW + POS + empty + ROW + empty + empty)
    r = runner.invoke(app, ["rank", "--input", "c.csv", "--group-by", "occupation"])
    assert (
        r.exit_code == 2 and "c.csv: row 3 has no value in the group column 'occupation' (2 more like it)" in r.stderr
    )


def test_model_folder_missing_a_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spec = spec_for(tmp_path, GOOD)
    assert runner.invoke(app, ["train", spec, "-q", "--output", "m"]).exit_code == 0
    (tmp_path / "m" / "weights.safetensors").unlink()
    r = runner.invoke(app, ["predict", "--model", "m", "--input", str(tmp_path / "data.csv")])
    assert r.exit_code == 2 and "missing file weights.safetensors" in r.stderr


def test_weights_whose_shape_does_not_match_the_config(tmp_path, monkeypatch):
    """Even with a manifest that vouches for them (checksums updated), wrong-shaped weights are refused."""
    import hashlib
    import json

    import torch
    from safetensors.torch import load_file, save_file

    monkeypatch.chdir(tmp_path)
    spec = spec_for(tmp_path, GOOD)
    assert runner.invoke(app, ["train", spec, "-q", "--output", "m"]).exit_code == 0
    weights = tmp_path / "m" / "weights.safetensors"
    state = load_file(str(weights))
    state["wide.weight"] = torch.zeros(7, 1)
    save_file(state, str(weights))
    manifest = json.loads((tmp_path / "m" / "manifest.json").read_text())
    manifest["files"]["weights.safetensors"] = hashlib.sha256(weights.read_bytes()).hexdigest()
    (tmp_path / "m" / "manifest.json").write_text(json.dumps(manifest))
    r = runner.invoke(app, ["predict", "--model", "m", "--input", str(tmp_path / "data.csv")])
    assert r.exit_code == 2, r.output
    assert "m/weights.safetensors: does not match model.json: wide.weight: saved (7, 1), config needs" in r.stderr


def test_truncated_weights_are_reported_as_such(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spec = spec_for(tmp_path, GOOD)
    assert runner.invoke(app, ["train", spec, "-q", "--output", "m"]).exit_code == 0
    weights = tmp_path / "m" / "weights.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    r = runner.invoke(app, ["rank", "--model", "m", "--input", str(tmp_path / "data.csv"), "--group-by", "age"])
    assert r.exit_code == 2 and "weights.safetensors: checksum mismatch (corrupted or truncated)" in r.stderr


@pytest.mark.parametrize("name", ["manifest.json", "pipeline.json", "model.json", "metrics.json", "split.json"])
def test_run_files_nested_past_the_stack_or_with_endless_numbers_are_refused(tmp_path, monkeypatch, name):
    """A run file of 200,000 nested lists (JSON's parser recurses past Python's stack) or a number of 5,001 digits
    (past Python's limit on converting text to integers), its checksum made to match: exit 2 naming the file and
    what to do, not 'a bug in wdcli' (a hostile probe: exit 1 from predict, rank, eval and serve --check)."""
    monkeypatch.chdir(tmp_path)
    spec = spec_for(tmp_path, GOOD)
    assert runner.invoke(app, ["train", spec, "-q", "--output", "m"]).exit_code == 0
    for text in ("[" * 200_000 + "]" * 200_000, '{"format_version": ' + "9" * 5001 + "}"):
        (tmp_path / "m" / name).write_text(text)
        manifest = json.loads((tmp_path / "m" / "manifest.json").read_text()) if name != "manifest.json" else None
        if manifest is not None:
            manifest["files"][name] = hashlib.sha256((tmp_path / "m" / name).read_bytes()).hexdigest()
            (tmp_path / "m" / "manifest.json").write_text(json.dumps(manifest))
        commands = [["predict", "--input", "data.csv"], ["eval", "--split", "test"], ["serve", "--check"]]
        for args in commands if name != "split.json" else commands[1:2]:  # (only eval --split reads the split)
            r = runner.invoke(app, [args[0], "--model", "m", *args[1:]])
            assert r.exit_code == 2, (args, r.output)
            assert "m" in r.stderr and "bug" not in r.stderr and "Traceback" not in r.output, r.stderr


def test_unusual_training_data_trains(tmp_path, monkeypatch):
    """NaN, inf, empty cells, unseen markers and very long strings in training data are not errors."""
    monkeypatch.chdir(tmp_path)
    odd = (
        "NaN,40,0,Bachelors,Adm-clerical,United-States,13,<=50K\n"
        "inf,-inf,1e308,HS-grad,?,,9,>50K\n"
        f"30,,0,{'x' * 100_000},Sales,{'日本' * 1000},13,<=50K\n"
    )
    spec = spec_for(tmp_path, GOOD + odd * 5)
    r = runner.invoke(app, ["train", spec, "-q", "--output", "m"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["predict", "--model", "m", "--input", str(tmp_path / "data.csv")])
    scores = pl.read_csv(r.stdout.encode())["score"]
    assert scores.is_finite().all() and scores.is_between(0, 1).all()
