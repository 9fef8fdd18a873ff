"""The command line as a newcomer meets it (issue 15): each mistake gets a clear answer, exit 2, no traceback.
Each class of mistake is swept over every command it applies to, read from the app itself: counts at 0,
negative and huge; flags given a value; every file option with a missing, unreadable, wrong or unwritable
file; --debug after the command; help text."""

from __future__ import annotations

import errno
import json
import os

import polars as pl
import pytest

from .cli_world import base_args, commands, inside, invoke, make_world, unreadable
from .conftest import SPECS

COMMANDS = commands()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return make_world(tmp_path_factory.mktemp("world"))


@pytest.fixture
def w(world, monkeypatch):
    monkeypatch.chdir(world.root)
    return world


def clean_exit_2(r, *texts):
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output and "internal error" not in r.output, r.output
    flat = " ".join(r.output.replace("│", " ").split())  # rich boxes and wraps long lines
    for t in texts:
        assert " ".join(t.split()) in flat, (t, r.output)


def test_every_command_has_a_working_base_line(w):
    """The sweeps change one thing in these lines; each must work as it is (and a new command needs one)."""
    base = base_args(w)
    assert set(COMMANDS) <= set(base), f"add a working command line for {set(COMMANDS) - set(base)} to base_args"
    for name in COMMANDS:
        r = invoke(name, *base[name])
        assert r.exit_code == 0, (name, r.output)


# ------------------------------------------------------------------------------------ swept classes


def options(kind=None, argument=False):
    return [
        (o.command, o)
        for opts in COMMANDS.values()
        for o in opts
        if (kind is None or o.kind is kind) and o.argument == argument
    ]


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_help_reads_like_a_click_tool(name):
    r = invoke(name, "--help")
    assert r.exit_code == 0
    assert "<bool>" not in r.output and "{" not in r.output.splitlines()[1], r.output
    for o in COMMANDS[name]:
        if o.argument:
            assert (
                f"Usage: wdcli {name} [OPTIONS] {o.names[0]}" in r.output  # required, or optional:
                or f"Usage: wdcli {name} [OPTIONS] [{o.names[0]}]" in r.output
            )
        if o.kind is not bool and not o.argument:
            assert o.metavar and o.metavar.isupper() or "=" in (o.metavar or ""), (name, o)  # FILE, N, KEY=VALUE


@pytest.mark.parametrize("name,opt", options(bool), ids=lambda x: getattr(x, "names", [x])[0])
def test_every_flag_given_a_value_says_it_takes_none(name, opt, w):
    for given in ([opt.names[0], "true"], [opt.names[0], "no"], [f"{opt.names[0]}=yes"]):
        r = invoke(name, *base_args(w)[name], *given)
        clean_exit_2(r, f"{opt.names[0]} is a flag and takes no value", f"write {opt.names[0]} alone")


@pytest.mark.parametrize("name,opt", options(int), ids=lambda x: getattr(x, "names", [x])[0])
def test_every_count_refuses_zero_negative_huge_and_text(name, opt, w):
    for value, says in (
        ("0", "should be greater than or equal to 1"),
        ("-3", "should be greater than or equal to 1"),
        (str(2**40), "should be less than or equal to"),
        ("ten", ""),
    ):
        r = invoke(name, *base_args(w)[name], opt.names[0], value)
        clean_exit_2(r, f"Invalid value for '{opt.names[0]}'", says)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_debug_is_accepted_after_the_command(name, w):
    r = invoke(name, *base_args(w)[name], "--debug")
    assert r.exit_code == 0, r.output


READ_CASES = {
    "missing": "no such file",
    "folder": "is a folder",
    "unreadable": "permission denied",
    "wrong extension": "unknown file type '.txt'",
    "empty": "the file is empty",
    "not UTF-8": "not valid UTF-8",
    "not parquet": "cannot be read as PARQUET",
}
WRITE_CASES = {
    "folder": "is a folder",
    "wrong extension": "unknown file type '.txt'",
    "under a file": "is not a folder",
    "unwritable": "permission denied",
}


def file_options():
    """(command, option, role) for every option that names a file or folder."""
    roles = {
        ("--input", "FILE"): "read",
        ("--output", "FILE"): "write",
        ("--output", "DIR"): "run folder",
        ("--model", "DIR"): "model",
        ("SPEC", "SPEC"): "spec",
        ("--baseline", "DIR"): "model",
        ("--warm-start", "DIR"): "model",
        ("--verify-input", "FILE"): "read",
        ("RUN", "RUN"): "run",
        ("--output", "FOLDER"): "export folder",
        ("--png", "DIR"): "figures folder",
        ("--runs", "DIR"): "runs folder",
        ("--study", "DIR"): "study folder",
    }
    found = []
    for name, opts in COMMANDS.items():
        for o in opts:
            if o.kind.__name__ == "Path":
                role = roles.get((o.names[0], o.metavar))
                assert role, f"{name} {o.names[0]}: say in test_cli_misuse.file_options how to misuse it"
                found.append((name, o, role))
    return found


def replace_option(args: list, option: str, value) -> list:
    args = [str(a) for a in args]
    if option in args:
        i = args.index(option)
        return args[:i] + [option, str(value)] + args[i + 2 :]
    return args + [option, str(value)]


@pytest.mark.parametrize("name,opt,role", file_options(), ids=lambda x: getattr(x, "names", [x])[0])
def test_every_file_option_with_a_wrong_file(name, opt, role, w):
    base = base_args(w)[name]
    if role == "read":
        for case, says in READ_CASES.items():
            with unreadable([w.bad["unreadable"]]):
                r = invoke(name, *replace_option(base, opt.names[0], w.bad[case]))
            clean_exit_2(r, says, w.bad[case].name)
    elif role == "spec":
        for case in ("missing", "folder", "unreadable", "empty"):
            with unreadable([w.bad["unreadable"]]):
                r = invoke(name, w.bad[case], *base[1:])
            clean_exit_2(r, w.bad[case].name)
    elif role == "write":
        locked = w.fresh("locked")
        locked.mkdir()
        locked.chmod(0o500)
        for case, says in WRITE_CASES.items():
            target = locked / "x.csv" if case == "unwritable" else w.bad[case]
            with unreadable([]):
                os_access = os.access
                if os.geteuid() == 0:  # root may write anywhere: say the folder is not writable
                    os.access = lambda p, m, *a, **k: False if str(p) == str(locked) else os_access(p, m, *a, **k)  # noqa: B023
                try:
                    r = invoke(name, *replace_option(base, opt.names[0], target))
                finally:
                    os.access = os_access
            clean_exit_2(r, says)
    elif role == "run folder":
        clean_exit_2(invoke(name, *replace_option(base, opt.names[0], w.data)), "is a file; give a folder")
        taken = w.fresh()
        assert invoke(name, *replace_option(base, opt.names[0], taken)).exit_code == 0
        clean_exit_2(invoke(name, *replace_option(base, opt.names[0], taken)), "already holds a run; pass --force")
        assert invoke(name, *replace_option(base, opt.names[0], taken), "--force").exit_code == 0
    elif role == "figures folder":
        clean_exit_2(invoke(name, *replace_option(base, opt.names[0], w.data)), "is a file; give a folder")
    elif role == "runs folder":
        clean_exit_2(invoke(name, *replace_option(base, opt.names[0], w.bad["missing"])), "no trained model found")
    elif role == "study folder":  # a study continues in its folder: the same line twice works
        clean_exit_2(
            invoke(name, *replace_option(base, opt.names[0], w.data)), "is a file; give a folder for the study"
        )
        again = replace_option(base, opt.names[0], w.fresh("study"))
        assert invoke(name, *again).exit_code == 0 and invoke(name, *again).exit_code == 0
    elif role == "model":
        clean_exit_2(invoke(name, *base, opt.names[0], w.bad["missing"]), "no such model folder")
        clean_exit_2(invoke(name, *base, opt.names[0], w.data), "not a model folder")
        clean_exit_2(invoke(name, *base, opt.names[0], w.bad["folder"]), "not a model folder")
    elif role == "run":  # a run folder as the first argument
        clean_exit_2(invoke(name, w.bad["missing"], *base[1:]), "no such model folder")
        clean_exit_2(invoke(name, w.data, *base[1:]), "not a model folder")
        clean_exit_2(invoke(name, w.bad["folder"], *base[1:]), "not a model folder")
    elif role == "export folder":
        clean_exit_2(invoke(name, *replace_option(base, opt.names[0], w.data)), "is a file; give a folder")
        taken = w.fresh("export")
        taken.mkdir()
        (taken / "x.txt").write_text("")
        clean_exit_2(invoke(name, *replace_option(base, opt.names[0], taken)), "already holds files; pass --force")


def test_os_errors_anywhere_are_messages_not_internal_errors(w, monkeypatch):
    """A disk that fills up or a file that cannot be read half-way: the path and what to do, exit 2."""
    import wdcli.artifact
    import wdcli.data.io

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device", "scores.csv")

    monkeypatch.setattr(wdcli.data.io, "write_batches", full)
    clean_exit_2(
        invoke("predict", "--input", w.data, "--output", "scores.csv"),
        "error: scores.csv: no space left on the device; free some space, or write elsewhere",
    )
    monkeypatch.undo()
    monkeypatch.chdir(w.root)

    def denied(path):
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(wdcli.artifact, "_sha256", denied)
    for name in ("eval", "predict", "rank", "inspect"):
        clean_exit_2(invoke(name, *base_args(w)[name]), "permission denied; check its permissions")


def test_an_internal_error_says_how_to_see_its_traceback(w, monkeypatch):
    from wdcli.score.scorer import Scorer

    def bug(*a, **k):
        raise RuntimeError("a bug")

    monkeypatch.setattr(Scorer, "score", bug)
    r = invoke("predict", "--input", w.data)
    assert r.exit_code == 1
    assert "internal error: RuntimeError: a bug" in r.stderr and "this is a bug in wdcli" in r.stderr
    assert f"wdcli predict --input {w.data} --debug" in r.stderr
    for args in (["predict", "--input", w.data, "--debug"], ["--debug", "predict", "--input", w.data]):
        r = invoke(*args)
        assert isinstance(r.exception, RuntimeError), r.output  # the traceback, unhidden


# ------------------------------------------------------------------------------- the findings


def test_1_set_reaches_a_column_written_in_short_form(w):
    r = invoke("validate", w.spec, "--set", "columns.education.min_count=1000")
    assert r.exit_code == 0, r.output
    assert "2 vocab" in r.output.split("│ education", 1)[1].splitlines()[0]  # only the missing and OOV ids


def test_2_predict_mistakes_are_user_errors(w):
    clean_exit_2(invoke("predict", "--input", "nothere.csv"), "Invalid value for '--input': no such file: nothere.csv")
    clean_exit_2(invoke("predict", "--input", w.data, "--columns", "age,nope"), "no column 'nope' to keep")
    clean_exit_2(
        invoke("predict", "--input", w.data, "--columns", "agee"), "no column 'agee' to keep (did you mean 'age'?)"
    )
    clean_exit_2(invoke("predict", "--input", w.data, "--columns", "age,,income"), "a column name is empty")
    r = invoke("predict", "--input", w.data, "--columns", "age,age")
    assert r.exit_code == 0 and r.stdout.splitlines()[0] == "age,score"


@pytest.fixture(scope="module")
def churn(tmp_path_factory):
    """A churn spec whose label is yes/no, trained; and files of the same data written YES/NO."""
    root = tmp_path_factory.mktemp("churn")
    n = 200
    frame = pl.DataFrame(
        {
            "plan": [["basic", "pro", "team"][i % 3] for i in range(n)],
            "tenure": [float(i % 37) for i in range(n)],
            "churned": ["yes" if (i % 3 == 0) != (i % 7 == 0) else "no" for i in range(n)],
        }
    )
    frame.write_csv(root / "churn.csv")
    frame.with_columns(pl.col("churned").str.to_uppercase()).write_csv(root / "shouting.csv")
    spec = (
        "data: {train: churn.csv}\nlabel: {column: churned, positive: %s}\n"
        "columns: {plan: categorical, tenure: numeric}\ntrain: {epochs: 1}\n"
    )
    (root / "quoted.yaml").write_text(spec % '"yes"')
    (root / "unquoted.yaml").write_text(spec % "yes")
    (root / "markers.yaml").write_text(
        spec.replace("plan: categorical", "plan: {kind: categorical, missing: [no]}") % '"yes"'
    )
    with inside(root):
        assert invoke("train", "quoted.yaml", "-q").exit_code == 0
    return root


def test_3_eval_refuses_a_file_where_the_positive_label_never_occurs(churn, monkeypatch):
    monkeypatch.chdir(churn)
    r = invoke("eval", "--input", "shouting.csv")
    clean_exit_2(
        r,
        "no row has the model's positive label 'yes' in column 'churned' (values: ['NO', 'YES'])",
        "AUC is undefined",
        "check that this file writes the label as the training data did",
    )
    r = invoke("rank", "--input", "shouting.csv", "--group-by", "plan")
    assert r.exit_code == 0 and "note: no ranking metrics" in r.stderr and "'YES'" in r.stderr
    pl.read_csv("churn.csv").filter(pl.col("churned") == "yes").write_csv("all_yes.csv")
    r = invoke("eval", "--input", "all_yes.csv", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["auc"] is None  # NaN is null in JSON
    assert "warning: AUC is undefined on all_yes.csv: every row has the same label" in r.stderr


def test_3_the_scorer_says_the_same_without_the_cli(churn):
    from wdcli.errors import DataError, MissingColumns
    from wdcli.score import Scorer

    scorer = Scorer.load(churn / "runs" / "quoted")
    with pytest.raises(DataError, match="no row has the model's positive label 'yes'"):
        scorer.evaluate(pl.read_csv(churn / "shouting.csv"))
    with pytest.raises(MissingColumns, match=r"the model is .*runs/quoted/.* \(spec 'quoted'\); if this file is meant"):
        scorer.score(pl.DataFrame({"plan": ["pro"]}))


def test_4_yaml_booleans_are_explained_where_values_meet_data(churn, monkeypatch):
    monkeypatch.chdir(churn)
    says = (
        "label.positive is the boolean true, but column 'churned' holds ['no', 'yes']",
        "YAML reads unquoted yes, no, on, off, true and false as booleans",
        'positive: "yes"',
    )
    for command in ("validate", "train"):
        clean_exit_2(invoke(command, "unquoted.yaml"), *says)
        clean_exit_2(invoke(command, "quoted.yaml", "--set", "label.positive=yes"), *says)
    assert invoke("validate", "quoted.yaml", "--set", 'label.positive="yes"').exit_code == 0
    clean_exit_2(
        invoke("validate", "markers.yaml"),
        "markers.yaml:3 columns.plan.missing[0]: should be text: "
        'YAML read unquoted no as the boolean false; quote it to keep it text: "no"',
    )
    clean_exit_2(
        invoke("validate", "quoted.yaml", "--set", "columns.plan.missing=[off]"),
        "--set columns.plan.missing[0]: should be text: YAML read unquoted off as the boolean false",
    )


def test_column_names_yaml_reads_as_numbers_are_named_at_their_lines_and_many_are_one_problem(tmp_path):
    """A table whose columns are named 4, 5, ... (a protein data set's 74 features): each unquoted name is a
    number to YAML. One is told at its own line; many in one mapping are one problem, not 74 alike."""
    (tmp_path / "t.csv").write_text("y,4,5,6,7\n1,1,2,3,4\n0,2,3,4,5\n")
    head = "name: t\ndata: {train: t.csv}\nlabel: {column: y}\ncolumns:\n"
    (tmp_path / "one.yaml").write_text(head + '  "4": numeric\n  5: numeric\n')
    clean_exit_2(
        invoke("validate", tmp_path / "one.yaml"),
        'one.yaml:6 columns.5: should be text: YAML read unquoted 5 as a number; quote it to keep it text: "5"',
    )
    (tmp_path / "many.yaml").write_text(head + "".join(f"  {c}: numeric\n" for c in (4, 5, 6, 7)))
    r = invoke("validate", tmp_path / "many.yaml")
    clean_exit_2(r, "many.yaml:5 columns: YAML read 4 unquoted names as numbers (4, 5, 6, ... 7); quote each")
    assert "1 problem in the spec" in r.output
    (tmp_path / "quoted.yaml").write_text(head + "".join(f'  "{c}": numeric\n' for c in (4, 5, 6, 7)))
    assert invoke("validate", tmp_path / "quoted.yaml").exit_code == 0


def test_a_section_key_given_at_the_top_names_its_section():
    """A walk: `--set seed=1` listed the top-level keys, with no word of train.seed."""
    spec = SPECS / "census.yaml"
    clean_exit_2(
        invoke("validate", spec, "--set", "seed=1"), "unknown key 'seed' (did you mean train.seed or tune.seed?)"
    )
    clean_exit_2(
        invoke("validate", spec, "--set", "hidden=[8]"), "unknown key 'hidden' (did you mean 'wide' or deep.hidden?)"
    )
    clean_exit_2(invoke("validate", spec, "--set", "column=x"), "(did you mean 'columns' or label.column?)")
    clean_exit_2(invoke("validate", spec, "--set", "trian.epochs=1"), "unknown key 'trian' (did you mean 'train'?)")


def test_5_every_command_that_loads_a_model_names_it_and_a_mismatch_suggests_model(w):
    for name in ("eval", "predict", "rank", "inspect"):
        args = [a for a in base_args(w)[name] if a != "-q"]
        r = invoke(name, *args)
        assert r.exit_code == 0
        line = [x for x in r.stderr.splitlines() if x.startswith("model: ")]
        assert len(line) == 1 and "runs/tiny/" in line[0] and "(spec 'tiny', the latest run of any spec" in line[0]
        assert "model:" not in invoke(name, *args, "-q").stderr
    r = invoke("eval", "--input", w.bad["another model's data"])
    clean_exit_2(
        r,
        "missing label column 'income'",
        "the model is runs/tiny/",
        "if this file is meant for another model, pass --model runs/NAME",
    )
    r = invoke("predict", "--input", w.bad["another model's data"], "--model", "runs/tiny")
    clean_exit_2(r, "missing column 'education' (needed by columns.education)", "pass --model")
    assert "the latest run in runs/tiny" in r.stderr


def test_10_a_missing_source_column_is_blamed_on_the_declared_column_first(w):
    pl.read_csv(w.data).drop("age").write_csv("no_age.csv")
    clean_exit_2(
        invoke("predict", "--input", "no_age.csv"),
        "missing column 'age' (needed by columns.age, columns.age_buckets.source)",
    )


def test_6_set_typos_name_set_at_every_depth(w):
    for key, path in (
        ("trian.epochs", "trian"),
        ("train.epoks", "train.epoks"),
        ("train.wide_optimizer.alpah", "train.wide_optimizer.alpah"),
        ("columns.education.min_cont", "columns.education.min_cont"),
    ):
        r = invoke("train", w.spec, "-q", "--set", f"{key}=3")
        clean_exit_2(r, f"--set {path}: unknown key")
        assert "tiny.yaml:" not in r.stderr


def test_9_piped_output_is_whole(w, monkeypatch):
    monkeypatch.setenv("COLUMNS", "30")  # even a narrow setting does not cut what goes to a pipe
    r = invoke("eval", "--input", w.data, "-q")
    assert r.exit_code == 0 and "mean_score" in r.stdout and "calibration" in r.stdout and "…" not in r.stdout
    r = invoke("train", w.spec, "--set", "train.epochs=2", "--output", w.fresh())
    assert r.exit_code == 0, r.output
    epochs = [x for x in r.stderr.splitlines() if x.startswith("epoch ")]
    assert len(epochs) == 2 and epochs[1].startswith("epoch 2/2  loss ") and "validation auc" in epochs[1]
    for name in ("validate", "train", "eval", "inspect"):
        args = [*base_args(w)[name], "--json"]
        r = invoke(name, *args)
        assert r.exit_code == 0 and isinstance(json.loads(r.stdout), dict), (name, r.output)
    r = invoke("rank", "--input", w.data, "--group-by", "education", "--output", "ranked.csv", "--json")
    assert r.exit_code == 0 and "ndcg@10" in json.loads(r.stdout)


def test_10_outputs_say_what_they_wrote_and_rank_k_is_an_option(w):
    r = invoke("predict", "--input", w.data, "--output", "scores.parquet")
    assert r.exit_code == 0 and "wrote 400 rows to scores.parquet" in r.stderr
    r = invoke("predict", "--input", w.data)
    assert "wrote 400 rows to stdout" in r.stderr
    dash = invoke("predict", "--input", w.data, "--output", "-")  # (- is stdout, as in most tools)
    assert dash.exit_code == 0 and "wrote 400 rows to stdout" in dash.stderr and dash.stdout == r.stdout
    r = invoke("rank", "--input", w.data, "--group-by", "education", "--top-k", "2", "--k", "5")
    assert r.exit_code == 0 and "ndcg@5" in r.stderr and "wrote" in r.stderr
    assert "ndcg@2" in invoke("rank", "--input", w.data, "--group-by", "education", "--top-k", "2").stderr
    assert "ndcg@10" in invoke("rank", "--input", w.data, "--group-by", "education").stderr
    pl.read_csv(w.data).with_columns(_row=0, score=0.5, rank=1).write_csv("ranked_before.csv")  # names rank uses
    r = invoke("rank", "--input", "ranked_before.csv", "--group-by", "education", "--top-k", "1")
    assert r.exit_code == 0 and pl.read_csv(r.stdout.encode())["rank"].max() == 1


def test_with_json_an_error_is_json_on_stdout_as_well(w):
    """A script that reads `--json` output gets the error as JSON (its message on stderr as always), with the
    exit code and, for a spec, each problem."""
    r = invoke("train", w.spec, "--json", "--set", "train.epochs=0", "--output", w.fresh())
    assert r.exit_code == 2
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["exit_code"] == 2 and out["error"] == "1 problem in the spec"
    assert out["problems"] == ["--set train.epochs: should be greater than 0 (got 0)"]
    r = invoke("eval", "--model", w.fresh("nowhere"), "--split", "test", "--json")
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert r.exit_code == out["exit_code"] == 2 and "nowhere" in out["error"]
    r = invoke("train", w.spec, "--set", "train.epochs=0")  # (without --json, nothing on stdout)
    assert r.exit_code == 2 and r.stdout.strip() == ""


def test_quiet_training_says_nothing_on_stderr(w):
    """`train -q` (and `compare -q`) print no progress nor the settings that came from defaults: a script may
    take any stderr as trouble. Without -q the settings are said."""
    r = invoke("train", w.spec, "-q", "--output", w.fresh())
    assert r.exit_code == 0 and r.stderr == "", r.stderr
    r = invoke("train", w.spec, "--output", w.fresh())
    assert r.exit_code == 0 and "optimizer settings from defaults: " in r.stderr


def test_a_json_error_stays_off_stdout_where_stdout_carries_rows(w):
    """`rank`/`predict` without -o write rows to stdout (and their metrics to stderr): an error's JSON goes to
    stderr there, not after the rows; a usage error (a file that is not there) is JSON too."""
    r = invoke("rank", "--model", w.fresh("nowhere"), "--input", w.data, "--json")
    assert r.exit_code == 2 and r.stdout == ""
    assert json.loads(r.stderr.strip().splitlines()[-1])["exit_code"] == 2
    r = invoke("eval", "--model", w.fresh("nowhere"), "--input", "nope.csv", "--json")
    assert r.exit_code == 2 and "nope.csv" in json.loads(r.stdout.strip().splitlines()[-1])["error"]


def test_runs_trained_with_output_are_named_where_no_latest_points(tmp_path, monkeypatch):
    """`train --output runs/x` keeps no runs/LATEST: a command without --model then says which run to name."""
    import shutil

    from .cli_world import make_world

    (tmp_path / "w").mkdir()
    world = make_world(tmp_path / "w")
    monkeypatch.chdir(world.root)
    shutil.rmtree("runs", ignore_errors=True)
    assert invoke("train", world.spec, "-q", "--output", "runs/x").exit_code == 0
    clean_exit_2(invoke("eval", "--split", "test"), "holds runs trained with --output", "pass --model runs/x")
