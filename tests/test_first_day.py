"""What a new user meets on a first day with wdcli (issue 23): the version, a data file given as a spec, an
option that is a spec key, a misspelt spec file, a numeric column given an embedding, a serving error in the
client's terms, train's gAUC, a taken port, the report's epoch table, the runs table and a run not nested in a run."""

from __future__ import annotations

import re
import socket

import pytest
from typer.testing import CliRunner

from wdcli.cli import app
from wdcli.features.clean import REQUEST, numbers

from .conftest import SPECS, apps_frame

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args], prog_name="wdcli")


def test_version():
    r = invoke("--version")
    assert r.exit_code == 0 and re.match(r"wdcli \d+\.\d+\.\d+ \(python 3\.\d+\.\d+, torch ", r.stdout)


def test_a_data_file_given_as_the_spec_points_to_init(apps_spec):
    r = invoke("train", apps_spec.parent / "apps.csv")
    assert r.exit_code == 2 and "is a data file, not a spec" in r.stderr and "wdcli init" in r.stderr


def test_a_misspelt_spec_file_has_a_did_you_mean(apps_spec):
    r = invoke("validate", apps_spec.parent / "apps.yml")
    assert r.exit_code == 2 and "no such file" in r.stderr and "(did you mean" in r.stderr
    assert "apps.yaml?)" in r.stderr.replace("\n", "").replace("│", "").replace(" ", "")


@pytest.mark.parametrize(
    "args, says",
    [
        (["--epochs", "1"], "--set train.epochs=1"),
        (["--batch-size=64"], "--set train.batch_size=64"),
        (["--nprc", "2"], "(did you mean --nproc?)"),
    ],
)
def test_an_unknown_option_names_the_spec_key_or_the_option_it_is_like(apps_spec, args, says):
    r = invoke("train", apps_spec, *args)
    text = " ".join(r.stderr.replace("│", " ").split())
    assert r.exit_code == 2 and says in text and "Possible options" not in text
    if args[0] == "--epochs":
        assert "--nproc" not in text


def test_a_numeric_column_given_an_embedding_is_not_offered_a_lookalike(apps_spec):
    r = invoke("validate", apps_spec, "--set", "columns.country=numeric", "--set", "deep.embedding_dims={country: 4}")
    assert r.exit_code == 2 and "'country' is a numeric column" in r.stderr and "did you mean" not in r.stderr


def test_text_in_a_numeric_column_of_a_request_advises_the_client():
    import polars as pl

    from wdcli.errors import DataError

    frame = pl.DataFrame({"age": ["old"]})
    with pytest.raises(DataError) as e:
        numbers(frame, "age", [], REQUEST)
    assert "(1 row);" in str(e.value) and "send numbers there" in str(e.value) and "declare it" not in str(e.value)
    with pytest.raises(DataError, match=r"\(2 rows\); declare it categorical, or list such values"):
        numbers(pl.DataFrame({"age": ["old", "young"]}), "age", [], "data.csv")


def test_train_prints_the_test_gauc(apps_spec):
    r = invoke("train", apps_spec)
    assert r.exit_code == 0, r.output
    header = next(line for line in r.stdout.splitlines() if "split" in line and "auc" in line)
    assert "gauc" in header


def test_serve_on_a_taken_port_is_exit_2_naming_port_before_announcing(apps_spec):
    assert invoke("train", apps_spec, "-q").exit_code == 0
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = invoke("serve", "--model", "runs/apps", "--port", port)
    assert r.exit_code == 2 and f"port {port} on 127.0.0.1 is in use" in r.stderr and "--port" in r.stderr
    assert "serving" not in r.stderr


def test_the_reports_epoch_table_rounds_speed_and_seconds():
    from wdcli.report import html

    page = html.table(["epoch", "train_loss", "seconds", "rows_per_s"], [[1, 0.51234567, 3.456, 9041.3558]])
    assert "<td>9,041</td>" in page and "<td>3.5</td>" in page and "<td>0.5123</td>" in page


def test_runs_lists_settings_tried_within_a_spec_not_every_column_of_two(apps_spec, workdir):
    other = workdir / "other.csv"
    apps_frame().rename({"country": "land", "impression": "shown"}).write_csv(other)
    spec = workdir / "other.yaml"
    text = apps_spec.read_text().replace("apps.csv", "other.csv").replace("country", "land")
    spec.write_text(text.replace("impression", "shown"))
    for s, sets in ((apps_spec, []), (spec, []), (apps_spec, ["--set", "train.batch_size=32"])):
        assert invoke("train", s, "-q", *sets).exit_code == 0
    r = invoke("runs")
    header = next(line for line in r.stdout.splitlines() if "run" in line and "spec" in line)
    assert "batch_size" in header and "columns." not in header and "label." not in header


def test_a_run_trained_into_the_specs_runs_folder_is_not_nested_into(apps_spec, monkeypatch):
    """`train apps.yaml -o runs/apps`, then `train apps.yaml`: the second would be saved as runs/apps/RUN_ID,
    inside the first run's folder (and `--model runs/apps` would still find the first). It is refused before it
    trains, naming the folder and what to do; the first run is left as it was."""
    monkeypatch.chdir(apps_spec.parent)
    r = invoke("train", apps_spec, "-q", "-o", "runs/apps", "--set", "train.epochs=1")
    assert r.exit_code == 0, r.output
    before = sorted(p.name for p in (apps_spec.parent / "runs" / "apps").iterdir())
    r = invoke("train", apps_spec, "-q", "--set", "train.epochs=1")
    said = " ".join(r.stderr.split())
    assert r.exit_code == 2 and "runs/apps is a run folder" in said and "pass --output DIR" in said, r.output
    assert sorted(p.name for p in (apps_spec.parent / "runs" / "apps").iterdir()) == before


def test_a_run_its_epochs_cut_while_it_improved_says_more_may_help():
    from wdcli.cli.train_commands import still_improving
    from wdcli.metrics import EpochRecord, RunMetrics
    from wdcli.spec import load_spec

    s = load_spec(SPECS / "tiny.yaml", ["train.epochs=20", "train.early_stopping.patience=3"])

    def run(best: set[int], n: int = 20, validation: bool = True) -> RunMetrics:
        history = [EpochRecord(e, 0.5, 1.0, 100.0, best=e in best) for e in range(1, n + 1)]
        return RunMetrics({"train": {}, **({"validation": {}} if validation else {})}, history)

    said = still_improving(s, run({1, 5, 18}))
    assert said and "all 20 epochs" in said and "validation auc" in said and "best at epoch 18" in said
    assert "--set train.epochs=40" in said
    assert still_improving(s, run({1, 5, 20}))
    assert still_improving(s, run({1, 5, 17})) is None  # `patience` epochs without a better one: early stopping's say
    assert still_improving(s, run({1})) is None  # never better than the first
    assert still_improving(s, run({1, 11}, n=12)) is None  # stopped early
    assert still_improving(s, run({1, 19}, validation=False)) is None  # no validation rows: nothing to go on
    assert still_improving(load_spec(SPECS / "tiny.yaml", ["train.epochs=1"]), run({1}, n=1)) is None
    patient = load_spec(SPECS / "tiny.yaml", ["train.epochs=20", "train.early_stopping.patience=0"])
    assert still_improving(patient, run({1, 20})) and still_improving(patient, run({1, 19})) is None
