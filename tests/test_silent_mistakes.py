"""Mistakes that used to train silently are caught by `validate` (and `train`, `compare`, `tune`) with the fix: a
label, group or weight column the data lacks (did you mean), a list separator found in no value, a CSV read with
the wrong field separator; and the CSV field separator can be set (data.csv.separator, --separator)."""

from __future__ import annotations

import tempfile

import polars as pl
from typer.testing import CliRunner

from wdcli.cli import app

from .conftest import apps_frame

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_a_group_column_the_data_lacks_is_named_with_did_you_mean(apps_spec):
    typo = ["--set", "label.group=usr"]
    r = invoke("validate", apps_spec, *typo)
    assert r.exit_code == 2 and "missing column 'usr' (needed by label.group) (did you mean 'user'?)" in r.stderr
    r = invoke("train", apps_spec, *typo, "-q")
    assert r.exit_code == 2 and "(needed by label.group)" in r.stderr
    for key, value in (("label.column", "clickd"), ("label.weight", "agee")):
        r = invoke("validate", apps_spec, "--set", f"{key}={value}")
        assert r.exit_code == 2 and f"(needed by {key})" in r.stderr and "(did you mean" in r.stderr


def test_rank_and_eval_name_a_missing_group(apps_spec, workdir):
    assert invoke("train", apps_spec, "-q").exit_code == 0
    data = apps_spec.parent / "apps.csv"
    r = invoke("rank", "--input", data, "--group-by", "usr", "-q")
    assert r.exit_code == 2 and "no group column 'usr' (--group-by)" in r.stderr and "did you mean 'user'" in r.stderr
    pl.read_csv(data).drop("user").write_csv(workdir / "nouser.csv")
    r = invoke("eval", "--input", workdir / "nouser.csv", "-q")
    assert r.exit_code == 0 and "warning: no gAUC" in r.stderr and "no column 'user' (label.group)" in r.stderr
    r = invoke("rank", "--input", workdir / "nouser.csv", "-q")  # (the spec's group, not a --group-by given)
    assert r.exit_code == 2 and "no group column 'user' (the spec's label.group), so rank cannot tell" in r.stderr


def test_a_label_written_otherwise_than_the_run_was_trained_on_says_what_to_fix(apps_spec, workdir):
    """eval has no label.positive to set (the run's is fixed): a yes/no label on a 0/1 run names the file's fix."""
    assert invoke("train", apps_spec, "-q").exit_code == 0
    frame = pl.read_csv(apps_spec.parent / "apps.csv")
    frame.with_columns(clicked=pl.when(pl.col("clicked") == 1).then(pl.lit("yes")).otherwise(pl.lit("no"))).write_csv(
        workdir / "yesno.csv"
    )
    r = invoke("eval", "--input", workdir / "yesno.csv", "-q")
    assert r.exit_code == 2 and "the model was trained on a 0/1 label: write this file's label as" in r.stderr
    assert "label.positive" not in r.stderr


def test_a_set_on_a_misspelt_column_names_the_column_it_meant(apps_spec):
    r = invoke("validate", apps_spec, "--set", "columns.agee.clip=none")
    assert r.exit_code == 2 and "no column 'agee' is declared (did you mean 'age'?)" in " ".join(r.stderr.split())
    r = invoke("validate", apps_spec, "--set", "columns.age.clip=0,3")  # one problem, in the spec's words
    text = " ".join(r.stderr.split())
    assert r.exit_code == 2 and "1 problem" in text and "tuple" not in text
    assert "columns.age.clip: should be [low, high] of numbers, auto or none (got '0,3')" in text


def test_a_list_separator_found_in_no_value(apps_spec):
    r = invoke("validate", apps_spec, "--set", "columns.installed.separator=','")
    assert r.exit_code == 2
    assert "columns.installed.separator ',' occurs in none of the first" in r.stderr
    assert "they look separated by '|': set separator: '|'" in r.stderr
    r = invoke("validate", apps_spec, "--set", "columns.impression={kind: multivalent, separator: '|'}")
    assert r.exit_code == 0 and "warning: columns.impression.separator '|' occurs in none" in r.stderr
    assert "declare it kind: categorical" in r.stderr


def test_training_checks_the_list_separator_as_validate_does(apps_spec, workdir):
    """train, compare and tune, run without validate first, neither train on whole unsplit strings nor keep
    quiet about a list column with one value a row."""
    wrong = ["--set", "columns.installed.separator=','"]
    for command in (["train", apps_spec, "-q"], ["compare", apps_spec, "-q"], ["tune", apps_spec, "-q"]):
        r = invoke(*command, *wrong, *(["--study", workdir / "study"] if command[0] == "tune" else []))
        assert r.exit_code == 2, (command, r.output)
        assert "columns.installed.separator ',' occurs in none of the first" in r.stderr
        assert "they look separated by '|': set separator: '|'" in r.stderr
    assert not (workdir / "study" / "study.db").exists()  # (stopped before the study, not trial by trial)
    one = ["--set", "columns.impression={kind: multivalent, separator: '|'}", "--set", "train.epochs=1"]
    r = invoke("train", apps_spec, *one, "-q", "-o", workdir / "one")
    assert r.exit_code == 0 and "warning: columns.impression.separator '|' occurs in none" in r.stderr


def _semicolons(folder):
    data = folder / "semi.csv"
    apps_frame().write_csv(data, separator=";")
    spec = folder / "semi.yaml"
    spec.write_text((folder / "apps.yaml").read_text().replace("train: apps.csv", "train: semi.csv"))
    return data, spec


def test_a_csv_read_with_the_wrong_separator_says_which_and_how(apps_spec):
    data, spec = _semicolons(apps_spec.parent)
    r = invoke("validate", spec)
    assert r.exit_code == 2 and "semi.csv: its header is one field ('user;installed;" in r.stderr
    assert "look separated by semicolons: set data.csv.separator: ';' in the spec" in r.stderr
    assert "or pass --separator ';'" in r.stderr


def test_the_csv_separator_in_the_spec_and_on_file_commands(apps_spec, workdir):
    data, spec = _semicolons(apps_spec.parent)
    assert invoke("validate", spec, "--set", "data.csv.separator=';'").exit_code == 0
    r = invoke("train", spec, "--set", "data.csv={separator: ';'}", "-q")
    assert r.exit_code == 0, r.output
    r = invoke("eval", "--input", data, "-q")  # the run's own separator, by default
    assert r.exit_code == 0 and "auc" in r.stdout
    apps_frame(50).write_csv(workdir / "tabs.csv", separator="\t")
    r = invoke("predict", "--input", workdir / "tabs.csv", "--separator", "tab", "-q")
    assert r.exit_code == 0 and len(r.stdout.splitlines()) == 51
    r = invoke("predict", "--input", workdir / "tabs.csv", "--separator", "::", "-q")
    assert r.exit_code == 2 and "a separator is one character" in r.stderr
    r = invoke("validate", spec, "--set", "data.csv.separator=';;'")
    assert r.exit_code == 2 and "data.csv.separator" in r.stderr


def test_init_takes_the_separator_and_writes_it(workdir):
    apps_frame().write_csv(workdir / "semi.csv", separator=";")
    r = invoke("init", workdir / "semi.csv", "--label", "clicked")
    assert r.exit_code == 2 and "separated by semicolons" in r.stderr and "--separator ';'" in r.stderr
    r = invoke("init", workdir / "semi.csv", "--label", "clicked", "--separator", ";")
    assert r.exit_code == 0, r.output
    assert "csv: {separator: ;}" in (workdir / "semi.yaml").read_text()
    assert invoke("validate", workdir / "semi.yaml").exit_code == 0


def test_a_file_whose_lists_are_joined_by_another_separator_is_refused_by_predict(apps_spec, workdir):
    """predict, eval and rank score through the same check as the server: 'app1;app2' where the run splits on '|'
    is named, with what to do, and nothing is written."""
    r = invoke("train", apps_spec, "-q", "--set", "train.epochs=1", "-o", workdir / "run")
    assert r.exit_code == 0, r.output
    frame = apps_frame(100, seed=3).with_columns(pl.col("installed").str.replace_all("|", ";", literal=True))
    frame.write_csv(workdir / "semi.csv")
    r = invoke("predict", "--model", workdir / "run", "--input", workdir / "semi.csv", "-o", workdir / "out.csv")
    assert r.exit_code == 2, r.output
    assert "semi.csv" in r.stderr and "column 'installed' holds 'app" in r.stderr
    assert (
        "each piece split on ';' is one; columns.installed.separator is '|': join each row's values by '|'" in r.stderr
    )
    assert not (workdir / "out.csv").exists()


def test_a_list_set_without_brackets_says_how_to_write_it(apps_spec):
    """`--set deep.hidden=128,64` (a walk's) reads as text: the message shows the list as YAML wants it."""
    r = invoke("validate", apps_spec, "--set", "deep.hidden=16,8")
    assert r.exit_code == 2
    assert "--set deep.hidden: should be a valid list (got '16,8'); write a list in brackets: [16,8]" in r.stderr
    r = invoke("validate", apps_spec, "--set", "deep.hidden=[16,8]")
    assert r.exit_code == 0, r.output


def test_the_share_of_groups_a_part_leaves_one_row_is_the_binomials():
    from wdcli.train.checks import lone_share

    assert abs(lone_share(pl.Series([1, 1, 1]), 0.2) - 1) < 1e-12  # (a group of one row keeps it, if any)
    assert abs(lone_share(pl.Series([2]), 0.5) - 0.5 / 0.75) < 1e-12  # P(X = 1) / P(X >= 1)
    four, ten = lone_share(pl.Series([4]), 0.2), lone_share(pl.Series([10]), 0.2)
    assert abs(four - 4 * 0.2 * 0.8**3 / (1 - 0.8**4)) < 1e-12 and 0.5 < four and ten < 0.5


def test_small_groups_split_by_rows_are_warned_of_with_the_key_that_keeps_them_whole(tmp_path):
    """A walk's choice data: each purchase a group of four brands, split by rows: most test purchases kept one row
    (nothing to rank), and `train` reported a gAUC of fragments. Groups of 40 rows, a key, or a split by time:
    no warning."""
    import numpy as np

    rng = np.random.default_rng(0)
    n = 4_000
    frame = pl.DataFrame(
        {"purchase": np.arange(n) // 4, "brand": rng.integers(0, 4, n).astype(str), "chosen": rng.integers(0, 2, n)}
    )
    frame.write_csv(tmp_path / "choice.csv")
    (tmp_path / "spec.yaml").write_text(
        "data: {train: choice.csv}\nlabel: {column: chosen, group: purchase}\ncolumns: {brand: categorical}\n"
    )
    r = invoke("validate", tmp_path / "spec.yaml")
    assert r.exit_code == 0, r.output
    assert "label.group 'purchase': the split takes rows, not groups" in r.stderr
    assert "about 69% of the test part's groups would keep a single row" in r.stderr
    assert "set data.split.key: purchase" in r.stderr and "validation part" not in r.stderr
    r = invoke("validate", tmp_path / "spec.yaml", "--set", "train.early_stopping.metric=gauc")
    assert r.stderr.count("label.group 'purchase'") == 1  # (one warning, both parts named)
    assert "about 69% of the test part's and about 85% of the validation part's groups" in r.stderr
    r = invoke("validate", tmp_path / "spec.yaml", "--set", "data.split.key=purchase")
    assert r.exit_code == 0 and "split takes rows" not in r.stderr
    frame.with_columns(pl.col("purchase") // 10).write_csv(tmp_path / "choice.csv")  # (groups of 40 rows)
    r = invoke("validate", tmp_path / "spec.yaml")
    assert r.exit_code == 0 and "split takes rows" not in r.stderr


def test_a_split_by_a_time_that_differs_within_small_groups_is_warned_of(tmp_path):
    """A walk: `init --group situation --time travel_time` on choice situations of three modes, each mode its own
    travel time: the one cut took 3,113 of 3,256 test situations apart, silently. Small groups whose times differ:
    a warning from `validate` and `init`; each purchase at one time, or users of many rows: none."""
    import numpy as np

    rng = np.random.default_rng(0)
    n = 3_000
    frame = pl.DataFrame(
        {
            "situation": np.arange(n) // 3,
            "travel_time": rng.integers(10, 300, n),
            "when": np.arange(n) // 3,
            "mode": rng.integers(0, 3, n).astype(str),
            "chosen": rng.integers(0, 2, n),
        }
    )
    frame.write_csv(tmp_path / "swiss.csv")
    spec = "data: {train: swiss.csv, split: {time: %s}}\nlabel: {column: chosen, group: %s}\ncolumns: {mode: categorical}\n"
    said = "data.split.time 'travel_time' cuts through the groups of label.group 'situation'"
    for time, group, warned in (("travel_time", "situation", True), ("when", "situation", False)):
        (tmp_path / "spec.yaml").write_text(spec % (time, group))
        r = invoke("validate", tmp_path / "spec.yaml")
        assert r.exit_code == 0 and (said in " ".join(r.stderr.split())) == warned, r.output
    frame.rename({"situation": "n"}).write_csv(tmp_path / "n.csv")  # (a group whose name the check's frame holds)
    (tmp_path / "n.yaml").write_text((spec % ("travel_time", "n")).replace("swiss.csv", "n.csv"))
    r = invoke("validate", tmp_path / "n.yaml")
    assert r.exit_code == 0 and "cuts through the groups of label.group 'n'" in " ".join(r.stderr.split()), r.output
    (tmp_path / "test.csv").write_text(frame.head(30).write_csv())
    (tmp_path / "valid.csv").write_text(frame.head(30).write_csv())
    given = "\ndata: {train: swiss.csv, validation: valid.csv, test: test.csv, split: {time: travel_time}}\n"
    (tmp_path / "given.yaml").write_text(
        given + "label: {column: chosen, group: situation}\ncolumns: {mode: categorical}\n"
    )
    r = invoke("validate", tmp_path / "given.yaml")  # (no part cut from the training rows: nothing to say)
    assert r.exit_code == 0 and "cuts through" not in r.stderr, r.output
    frame.with_columns(pl.col("situation") // 10).write_csv(tmp_path / "swiss.csv")  # (users of 30 rows)
    (tmp_path / "spec.yaml").write_text(spec % ("travel_time", "situation"))
    assert "cuts through" not in invoke("validate", tmp_path / "spec.yaml").stderr
    frame.write_csv(tmp_path / "swiss.csv")
    r = invoke(
        "init",
        tmp_path / "swiss.csv",
        "--label",
        "chosen",
        "--group",
        "situation",
        "--time",
        "travel_time",
        "-o",
        tmp_path / "draft.yaml",
        "--no-trials",
        "-q",
    )
    assert r.exit_code == 0 and "warning: " + said in " ".join(r.stderr.split()), r.output


def test_a_split_key_read_as_a_feature_is_warned_of(tmp_path):
    """A walk: `person` declared as a feature beside `split.key: person`: every validation and test person is new,
    so its 3,308 learnt values served no held-out row, silently. Declared (or a bucketized column's source): a
    warning naming both keys and the ways out; not declared: none."""
    import numpy as np

    rng = np.random.default_rng(0)
    n = 2_000
    frame = pl.DataFrame({"person": rng.integers(0, 300, n), "car": rng.integers(0, 6, n).astype(str)})
    frame.with_columns(chosen=rng.integers(0, 2, n)).write_csv(tmp_path / "cars.csv")
    spec = "data: {train: cars.csv, split: {key: person}}\nlabel: {column: chosen}\ncolumns: {car: categorical%s}\n"
    for extra, warned in (
        ("", False),
        (", person: categorical", True),
        (", p: {kind: bucketized, source: person, boundaries: [9]}", True),
    ):
        (tmp_path / "spec.yaml").write_text(spec % extra)
        r = invoke("validate", tmp_path / "spec.yaml")
        assert r.exit_code == 0, r.output
        said = " ".join(r.stderr.split())
        assert (
            "reads data.split.key 'person', so every validation and test row holds a 'person' value" in said
        ) == warned


def test_a_test_or_validation_file_that_is_a_training_file_is_warned_of(tmp_path):
    """A walk: `--set data.test=../birds/train.csv` reported test AUC 0.901 (0.876 on rows the model never saw),
    and nothing said the rows were the training rows. The same file by another path is found too."""
    import numpy as np

    rng = np.random.default_rng(0)
    frame = pl.DataFrame({"a": rng.integers(0, 5, 400).astype(str), "y": rng.integers(0, 2, 400)})
    frame.write_csv(tmp_path / "train.csv")
    frame.write_csv(tmp_path / "other.csv")
    (tmp_path / "sub").mkdir()
    spec = "data: {train: train.csv, %s}\nlabel: {column: y}\ncolumns: {a: categorical}\n"
    for extra, warned in (
        ("test: train.csv", "data.test: "),
        ("test: sub/../train.csv", "data.test: "),
        ("validation: [other.csv, train.csv]", "data.validation: "),
        ("test: other.csv", None),
    ):
        (tmp_path / "s.yaml").write_text(spec % extra)
        r = invoke("validate", tmp_path / "s.yaml")
        said = " ".join(r.stderr.split())
        assert r.exit_code == 0 and (
            "is also a training file, so its figures are of rows the model trained on" in said
        ) == bool(warned), (extra, r.output)
        assert warned is None or f"{warned}{tmp_path / 'train.csv'} is also" in said


def test_a_list_column_declared_categorical_is_warned_of():
    """A walk: a previous basket ('a|b|c', every row) declared categorical validated without a word, each whole
    list one of 5,339 categories. Mostly joined values whose pieces recur: a warning naming multivalent; a column
    where a few rows name two (a tweet's mentions), or one declared multivalent: none."""
    import numpy as np

    rng = np.random.default_rng(0)
    n = 600
    items = [f"i{k}" for k in range(30)]
    baskets = ["|".join(rng.choice(items, rng.integers(2, 6), replace=False)) for _ in range(n)]
    mentions = [f"@u{k}|@u{k + 1}" if k % 10 == 0 else f"@u{k}" for k in rng.integers(0, 40, n)]
    frame = pl.DataFrame({"basket": baskets, "mentions": mentions, "y": rng.integers(0, 2, n)})
    with tempfile.TemporaryDirectory() as d:
        frame.write_csv(f"{d}/t.csv")
        spec = "data: {train: t.csv}\nlabel: {column: y}\ncolumns: {basket: %s, mentions: categorical}\n"
        for kind, warned in (("categorical", True), ("{kind: multivalent, separator: '|'}", False)):
            with open(f"{d}/s.yaml", "w") as f:
                f.write(spec % kind)
            r = invoke("validate", f"{d}/s.yaml")
            said = " ".join(r.stderr.split())
            assert r.exit_code == 0 and ("columns.basket is categorical, but" in said) == warned, r.output
            assert "columns.mentions is categorical" not in said
            assert not warned or "declare it kind: multivalent, separator: '|'" in said
