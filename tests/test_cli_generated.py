"""Hundreds of generated command lines, each a thing a user could type: every command, its options in any
order, right and wrong values (missing, unreadable and wrong files; counts of 0, negative or text; flags
with values; --set at every depth, typos, YAML booleans; unknown options and stray words). A line of right
values only must work (exit 0); one with a mistake ends in exit 0 or 2 (a message about the input); never 1: an
internal error means a bug in wdcli."""

from __future__ import annotations

import shlex

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .cli_world import commands, invoke, make_world, unreadable

COMMANDS = commands()
CORPUS = ["not_yaml", "unknown_kind", "wrong_type_epochs", "cross_of_undeclared", "positive_never_occurs"]
GOOD_SETS = [  # each valid alone (test_each_good_set_alone_is_taken)
    "deep.hidden=[]",
    "train.wide_optimizer.name=adam",
    "train.epochs=1",
    "train.max_rows=60",
    "columns.education.min_count=3",
    "columns.occupation.missing=[none, n/a]",
    "label.positive='>50K'",
    "label.group=education",
    "crosses[2]={columns: [education, age_buckets]}",
    "deep.hidden=[4]",
    "deep.embedding_dim=1",
    "model=deep",
    "model=wide",
    "train.wide_optimizer.alpha=0.2",
    "train.deep_optimizer={name: sgd, momentum: 0.5}",
    "train.early_stopping.patience=0",
    "train.batch_size=7",
    "data.split={validation: 0.0, test: 0.0}",
    "train.checkpoint.enabled=false",
    "name=other",
    "defaults.categorical.min_count=2",
    "train.output=elsewhere",
    "train.data.mode=stream",
    "train.data.shuffle_buffer=50",
    "train.data.read_batch_rows=64",
    "data.split.key=education",
    "train.data.mode=memory",
]
BAD_SETS = [
    "columns.education.kind=numeric",  # (crossed: a numeric column cannot be)
    "columns.age.kind=categorical",  # (age_buckets' source must be numeric)
    "label.weight=age",  # (a feature column)
    "train.epochs=0",
    "train.epochs=ten",
    "trian.epochs=2",
    "train.epoks=2",
    "columns.education.min_count=-1",
    "columns.education.x=1",
    "columns.education.kind=numerc",
    "columns.nope.kind=categorical",
    "columns.occupation.missing=[no, off]",
    "label.positive=yes",
    "label.column=nope",
    "label.column=age",
    "crosses[0].hash_buckets=0",
    "crosses[5].x=1",
    "crosses.x=1",
    "deep.hidden=[0]",
    "deep.embed=[nope]",
    "deep.dense=[education]",
    "model=widdeep",
    "wide.features=[]",
    "train.deep_optimizer={name: sgd, momentum: 2}",
    "train.max_rows=1",
    "data.train=nothere.csv",
    "data.split.validation=0.9",
    "name=yes",
    "=",
    "=1",
    "train",
    "a.b.c.d=1",
    "columns=3",
    "columns.age.quantiles=1",
    "columns.age_buckets.source=education",
    "defaults.x=1",
    "label.positive=maybe",
    "columns.age.clip=[5, 1]",
    "crosses[0].name={x: 1}",
    "train.data.mode=strem",
    "train.data.read_batch_rows=0",
    "data.split.key=nope",
    "data.split.key=income",
    "train.data=3",
]


SPACES = [  # each a valid search of one key (tune --space)
    "train.deep_optimizer.lr={log_uniform: [0.001, 0.3]}",
    "deep.embedding_dim={choice: [2, 4]}",
    "train.batch_size={int: [16, 64]}",
]
BAD_SPACES = ["train.epochs=3", "train.nope={uniform: [0, 1]}", "deep.embedding_dim={choice: []}", "x"]


def values_for(world, opt, wrong: bool) -> st.SearchStrategy:
    """What a user might give this option: right, or (`wrong`) a mistake. None: a flag alone. A right value is
    right for this option of this command, so that a line of right values only must work (exit 0)."""
    b, name, command = world.bad, opt.names[0], opt.command

    def pick(good, bad):
        return st.sampled_from(bad if wrong else good)

    def fresh(prefix: str, suffix: str = "") -> st.SearchStrategy:  # a path not used before: one there needs --force
        return st.just(prefix).map(lambda p: str(world.fresh(p, suffix).relative_to(world.root)))

    if opt.argument:
        wrong_files = [b["missing"], b["folder"], b["empty"], b["unreadable"]]
        if command in ("verify", "export", "report"):  # RUN: a run folder
            return pick(["runs/tiny", "runs/tiny/LATEST"], [*wrong_files, world.spec])
        if command == "init":  # DATA: a table
            return pick([world.data], [*wrong_files, world.spec])
        return pick([world.spec], [*wrong_files, world.data, *[world.corpus / f"{c}.yaml" for c in CORPUS]])
    if opt.kind is bool:
        return pick([None], ["true", "no"])
    if name == "--nproc":  # (each process a Python with torch: 40 of them took 10 s a line; 2 shows it)
        return pick(["1", "2"], ["0", "-1", "ten", "1.5", str(2**40), ""])
    if name in ("--trials", "--sample"):  # (a study of 40 trials is slow; init needs rows to draft from)
        return pick(["1", "2"] if name == "--trials" else ["100", "300"], ["0", "-1", "ten", "1.5", ""])
    if opt.kind is int:
        return pick(["1", "2", "5", "40"], ["0", "-1", "ten", "1.5", str(2**40), ""])
    if name in ("--moved-by", "--max-moved-share"):  # (verify: shares, of 1)
        return pick(["0.1", "0.5"], ["-1", "ten", "", "2"])
    if opt.kind is float:  # (seconds, megabytes, thresholds)
        return pick(["0.5", "2", "30"], ["0", "-1", "ten", ""])
    if name == "--model":  # (before lists: eval takes several)
        return pick(["runs/tiny", "runs/tiny/LATEST", "runs", "runs/LATEST"], [b["missing"], world.data, b["folder"]])
    if name in ("--baseline", "--warm-start"):
        return pick(["runs/tiny", "runs/tiny/LATEST"], [b["missing"], world.data, b["folder"]])
    if name == "--space":
        return pick(SPACES, BAD_SPACES)
    if name == "--log":
        return pick(["tensorboard"], ["mlflw", "", "tensorboard,mlflow"])
    if name == "--kind":
        return pick(["age=numeric", "education=categorical", "occupation=categorical"], ["age=numerc", "nope=numeric"])
    if name == "--allowed-host":
        return pick(["localhost", "example.org"], ["", "a b", "http://x/"])
    if opt.kind is list:
        return pick(GOOD_SETS, BAD_SETS)
    if name == "--host":
        return pick(["127.0.0.1", "localhost"], ["nope", "0.0.0.0"])  # (0.0.0.0 without --token: refused)
    if name == "--split":
        return pick(["test", "validation", "train"], ["tests", "", "holdout"])
    if name in ("--input", "--verify-input", "--test"):  # (init --test: a test file of the data's columns)
        return pick([world.data, "d*.csv"], [*b.values(), "nomatch*.csv", "*.csv", ""])
    if name == "--output":
        if command in ("train", "export"):  # DIR, FOLDER: a run or an export (an existing one needs --force)
            return fresh("run") if not wrong else st.sampled_from([world.data, b["under a file"]])
        if command == "init":
            return fresh("draft", ".yaml") if not wrong else pick([], [b["folder"], "x.txt"])
        if command == "report":
            return pick(["report.html", "sub/report.html"], [b["folder"], b["wrong extension"], b["under a file"]])
        return pick(
            ["out.csv", "out.parquet", "out.ndjson", "out.tsv", "sub/out.csv"],
            [b["folder"], b["wrong extension"], b["under a file"], "out"],
        )
    if name in ("--png", "--runs", "--study"):  # folders: to write (png, a study) or of runs
        good = {"--png": ["png", "sub/png"], "--runs": ["runs"], "--study": ["study", "sub/study"]}[name]
        return pick(good, [world.data, b["under a file"]])
    if name == "--device":
        return pick(["cpu", "auto"], ["gpu", "cuda:x", "age", ""])
    if name == "--separator":
        return pick([","], ["", ";;", "age,age"])
    if name == "--format":
        return pick(["onnx"], ["onx", "", "torchscript"])
    if name == "--token":
        return pick(["s3cret-token"], [""])
    if name == "--columns":  # (predict: input columns kept beside the score)
        return pick(["age", "education", "age,income", "income"], ["nope", "", ",", "age,,age", "score", "age,age"])
    if name in ("--group-by", "--group"):
        return pick(["education", "occupation"], ["nope", "", "educaton"])
    if name == "--label":
        return pick(["income"], ["nope", "", "incme"])
    if name == "--positive":
        return pick([">50K"], ["maybe", ""])
    if name == "--time":
        return pick(["age"], ["nope", "", "education"])
    raise AssertionError(f"no values for {command} {name}: add them here")


@st.composite
def command_lines(draw, world):
    """A command with some of its options, zero to two of them wrong, in any order; and whether every part of it
    is right (then it must work)."""
    name = draw(st.sampled_from(sorted(COMMANDS)))
    opts = [o for o in COMMANDS[name] if o.names[0] != "--debug"]  # --debug shows tracebacks on purpose
    needed = ("--input", "--group-by", "--check", "--label", "--baseline")  # (rank needs a group: the world's
    # spec names none; serve with --check loads and checks, then exits instead of serving; init, verify need theirs)
    chosen = [o for o in opts if o.argument or o.names[0] in needed or draw(st.integers(0, 2)) == 0]
    if any(o.names[0] == "--split" for o in chosen):  # the run's own rows, in place of --input's
        chosen = [o for o in chosen if o.names[0] != "--input"]
    if name == "report" and any(o.names[0] == "--model" for o in chosen):  # the run once: RUN or --model
        chosen = [o for o in chosen if not o.argument]
    wrong = set(draw(st.lists(st.sampled_from(range(len(chosen))), max_size=2))) if chosen else set()
    groups = []
    for i, opt in enumerate(chosen):
        for _ in range(draw(st.integers(1, 3)) if opt.kind is list and opt.names[0] != "--model" else 1):
            value = draw(values_for(world, opt, i in wrong))
            if opt.argument:
                groups.append([str(value)])
            else:
                groups.append([draw(st.sampled_from(opt.names))] + ([] if value is None else [str(value)]))
    if name in ("train", "compare"):
        groups.append(["--set", "train.max_rows=60"])  # keep training lines quick
    if name == "tune":  # (a study of the spec's 20 trials took 3-4 s a line, a third of this test)
        groups.append(["--set", "tune.trials=2"])
    stray = None
    if draw(st.integers(0, 9)) == 0:  # now and then something that is no option at all
        stray = draw(st.sampled_from(["--nope", "stray", "-x", "--help", "--json", "--quiet"]))
        groups.append([stray])
    order = draw(st.permutations(range(len(groups))))
    known = {n for o in COMMANDS[name] for n in o.names}
    right = not wrong and (stray is None or stray in known or stray == "--help")  # (a flag again is no mistake)
    given = {o.names[0] for o in chosen}
    if name == "init" and not {"--output", "--force"} & given:
        right = right and not (world.root / "data.yaml").exists()  # (init's draft exists: it asks for --force)
    if name == "init":  # (a column given to --label, --time or --group is no feature: --kind of it is refused)
        roles = {g[1] for g in groups if g[0] in ("--label", "--time", "--group") and len(g) > 1}
        right = right and not any(g[1].split("=")[0] in roles for g in groups if g[0] == "--kind" and len(g) > 1)
    if name == "tune" and "--fresh" not in given:  # (a study of other settings there: it asks for --fresh)
        study = next((g[1] for g in groups if g[0] == "--study"), "runs/tiny/tune")
        right = right and not (world.root / study / "study.db").exists()
    return [name, *[a for j in order for a in groups[j]]], right


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from .conftest import ROOT

    w = make_world(tmp_path_factory.mktemp("generated"))
    w.corpus = ROOT / "tests" / "corpus" / "specs"
    return w


def test_no_command_line_a_user_can_type_is_an_internal_error(world, monkeypatch):
    monkeypatch.chdir(world.root)
    seen = []

    @settings(max_examples=300, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
    @given(command_lines(world))
    def check(drawn):
        line, right = drawn
        with unreadable([world.bad["unreadable"]]):
            r = invoke(*line)
        seen.append((r.exit_code, right))
        assert r.exit_code in ((0,) if right else (0, 2)), (
            f"wdcli {shlex.join(line)}\n-> exit {r.exit_code}\n{r.output}"
        )
        assert "Traceback" not in r.output and "internal error" not in r.output, shlex.join(line)

    check()
    right, mistaken = sum(r for _, r in seen), sum(c == 2 for c, _ in seen)
    assert right >= 100 and mistaken >= 100, (right, mistaken)  # both kinds were met


@pytest.mark.parametrize("override", GOOD_SETS)
def test_each_good_set_alone_is_taken(world, override, monkeypatch):
    """Alone, each of GOOD_SETS validates (exit 0); the generated lines combine up to three of them."""
    monkeypatch.chdir(world.root)
    r = invoke("validate", world.spec, "--set", override)
    assert r.exit_code == 0, f"--set {override}\n{r.output}"
