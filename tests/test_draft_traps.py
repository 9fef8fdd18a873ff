"""`wdcli init` on a recommender's data: a draft it writes always validates (a draft it would reject is an
internal error, kept for the report), labels are read the way people mean them, and what `--group` does to
the split is said."""

import numpy as np
import polars as pl
import pytest
import yaml
from typer.testing import CliRunner

from wdcli.cli import app
from wdcli.draft import build
from wdcli.draft.label import positive_of
from wdcli.spec import load_spec

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def ratings(n: int = 4000, movies: int = 1500, seed: int = 0, yes_share: float = 0.6) -> pl.DataFrame:
    """Rows of (user, movie, genres, movies liked before): the id and a list of the same ids, the paper's
    'installed apps' pattern; 'liked' is yes/no, yes the commoner."""
    rng = np.random.default_rng(seed)
    movie = rng.integers(1, movies + 1, n)
    liked = rng.random(n) < yes_share + 0.3 * (movie % 3 == 0) - 0.2
    history = ["|".join(str(m) for m in rng.integers(1, movies + 1, rng.integers(0, 6))) for _ in range(n)]
    genres = ["|".join(rng.choice(["Comedy", "Drama", "Horror", "Children's"], 2, replace=False)) for _ in range(n)]
    return pl.DataFrame(
        {
            "user_id": rng.integers(1, 400, n),
            "movie_id": movie,
            "title": [f"Movie {m}" for m in movie],  # the same thing as movie_id, in other words
            "genres": genres,
            "liked_before": history,
            "liked": np.where(liked, "yes", "no"),
        }
    )


def test_an_id_and_a_list_of_the_same_ids_draft_a_spec_that_validates(workdir):
    ratings().write_csv(workdir / "ml.csv")
    r = invoke("init", workdir / "ml.csv", "--label", "liked", "--group", "user_id")
    assert r.exit_code == 0, r.output
    spec = load_spec(workdir / "ml.yaml")
    keys = [x.key for x in spec.crosses]
    assert len(keys) == len(set(keys))  # each cross once
    for columns in spec.deep.shared.values():  # a table's columns take the same ids
        assert len({(spec.columns[c].hash_buckets, spec.columns[c].num_ids) for c in columns}) == 1
    assert ["liked_before", "movie_id"] in spec.deep.shared.values()
    assert "title" not in spec.columns  # a second name of each movie adds nothing
    assert "# title: left out: names the same things as movie_id" in (workdir / "ml.yaml").read_text()


def test_a_list_shares_the_table_of_the_column_most_like_it(workdir):
    """User and movie ids are both numbers from 1 (most user ids are also movie ids): with the user a feature
    (a split by time), the list of movies liked still shares the movie's table, not the user's."""
    frame = ratings(6000, movies=500)
    frame = frame.with_columns(ts=1_700_000_000 + pl.int_range(pl.len()) * 600)
    frame.write_csv(workdir / "ml.csv")
    r = invoke("init", workdir / "ml.csv", "--label", "liked", "--group", "user_id", "--time", "ts")
    assert r.exit_code == 0, r.output
    spec = load_spec(workdir / "ml.yaml")
    assert "user_id" in spec.columns
    assert list(spec.deep.shared.values()) == [["liked_before", "movie_id"]]


def test_a_draft_init_would_reject_is_an_internal_error_and_kept(workdir, monkeypatch):
    ratings(1000).write_csv(workdir / "ml.csv")
    real = build.render
    monkeypatch.setattr(build, "render", lambda *a, **k: real(*a, **k).replace("label:\n", "label:\n  colour: x\n"))
    r = invoke("init", workdir / "ml.csv", "--label", "liked")
    assert r.exit_code == 1 and "internal error: DraftRejected: init drafted a spec it rejects" in r.stderr
    assert "ml.yaml:" in r.stderr and ".tmp" not in r.stderr  # the problem, at the spec's name, not a temporary's
    assert "kept in ml.yaml.rejected" in r.stderr and "colour" in (workdir / "ml.yaml.rejected").read_text()
    assert not (workdir / "ml.yaml").exists()


def test_a_column_recorded_only_from_late_rows_on_drafts_a_spec_that_fits(workdir):
    """A column first filled 22,000 rows into the file (a field added to a form one day) is in the sample; the
    check that the draft fits reads all the sample, not its first rows, where the column has no values."""
    frame = ratings(24_000, movies=300).with_columns(
        citation=pl.when(pl.int_range(pl.len()) >= 22_000).then(pl.lit("yes")).otherwise(None)
    )
    frame.write_csv(workdir / "late.csv")
    r = invoke("init", workdir / "late.csv", "--label", "liked", "--no-trials")
    assert r.exit_code == 0, r.output
    assert "citation" in load_spec(workdir / "late.yaml").columns


def test_a_csv_with_a_header_and_no_rows(workdir):
    (workdir / "empty.csv").write_text("user_id,movie_id,liked\n")
    r = invoke("init", workdir / "empty.csv", "--label", "liked")
    assert r.exit_code == 2 and "has a header and no rows" in r.stderr and "internal" not in r.stderr


def test_a_yes_no_label_means_yes_whichever_is_rarer(workdir):
    ratings(yes_share=0.7).write_csv(workdir / "ml.csv")  # 'no' is the rarer
    r = invoke("init", workdir / "ml.csv", "--label", "liked")
    assert r.exit_code == 0, r.output
    assert load_spec(workdir / "ml.yaml").label.positive == "yes"
    assert "label: liked = 'yes' is the positive class (1)" in r.stderr and "--positive VALUE" in r.stderr


@pytest.mark.parametrize(
    "values, counts, positive",
    [
        (["no", "yes"], [70, 30], "yes"),
        (["yes", "no"], [70, 30], "yes"),
        (["click", "no-click"], [10, 90], "click"),
        (["no_click", "click"], [90, 10], "click"),
        (["not liked", "liked"], [20, 80], "liked"),
        (["Y", "N"], [40, 60], "Y"),
        (["0", "1"], [90, 10], None),  # a 0/1 column needs no label.positive
        (["True", "False"], [10, 90], None),
        (["won", "lost"], [70, 30], "won"),
        (["kept", "skipped"], [70, 30], "kept"),  # one value reads as no: the other is yes, commoner or not
        (["failed", "ok"], [80, 20], "ok"),
        (["churn", "no churn"], [70, 30], "churn"),  # 'no X' says 'not X', X the commoner and no word of YES
        (["A", "B"], [70, 30], "B"),  # neither reads as yes: the rarer, and the note says so
    ],
)
def test_label_values_are_read_the_way_people_mean_them(values, counts, positive):
    text = pl.Series("y", [v for v, n in zip(values, counts) for _ in range(n)])
    p, y = positive_of(text, "y", None, "data.csv")
    assert p.value == positive
    assert y.sum() == counts[values.index(p.shown.strip("'"))]  # the rows of the value named positive are 1
    if values == ["A", "B"]:
        assert "the rarer" in p.why and "check it" in p.why


def test_positive_0_of_a_0_1_column_is_kept():
    """`--positive 0` on a 0/1 column: the 0 rows are the positive class, and the spec says so (only 1 goes
    without saying)."""
    text = pl.Series("y", ["0"] * 30 + ["1"] * 70)
    p, y = positive_of(text, "y", "0", "data.csv")
    assert p.value == "0" and y.sum() == 30 and y[:30].all()
    p, y = positive_of(text, "y", "1", "data.csv")
    assert p.value is None and y.sum() == 70


def test_init_says_what_group_does_to_the_split(workdir):
    ratings(1000).write_csv(workdir / "ml.csv")
    r = invoke("init", workdir / "ml.csv", "--label", "liked", "--group", "user_id")
    assert r.exit_code == 0, r.output
    assert "data.split.key is user_id (--group)" in r.stderr and "a cold-start split" in r.stderr
    assert "user_id is not a feature" in r.stderr
    assert "delete data.split.key from ml.yaml and add user_id: categorical to its columns" in r.stderr
    assert "init --time COLUMN" in r.stderr
    raw = yaml.safe_load((workdir / "ml.yaml").read_text())
    assert raw["data"]["split"]["key"] == "user_id"
    # the edit, done as written, validates and makes the user a feature, each user in every part
    del raw["data"]["split"]["key"]
    raw["columns"]["user_id"] = "categorical"
    (workdir / "known.yaml").write_text(yaml.safe_dump(raw))
    spec = load_spec(workdir / "known.yaml")
    assert spec.data.split.key is None and "user_id" in spec.columns
    r = invoke("init", workdir / "ml.csv", "--label", "liked", "-o", "plain.yaml")
    assert "split.key" not in r.stderr  # without --group, nothing to say


def test_init_shows_its_steps_when_piped(workdir):
    ratings(1000).write_csv(workdir / "ml.csv")
    r = invoke("init", workdir / "ml.csv", "--label", "liked")
    lines = r.stderr.splitlines()
    assert lines[0] == f"sampling {workdir / 'ml.csv'}" and any(line.startswith("ranking columns") for line in lines)
    r = invoke("init", workdir / "ml.csv", "--label", "liked", "-o", "q.yaml", "-q")
    assert "sampling" not in r.stderr


def tastes(n: int = 6000, users: int = 200, seed: int = 0) -> pl.DataFrame:
    """Each user likes some genres (a taste no other user shares); a zip code names each user."""
    rng = np.random.default_rng(seed)
    user = rng.integers(0, users, n)
    genre = rng.choice(["Comedy", "Drama", "Horror", "Western"], n)
    taste = rng.random((users, 4)) < 0.5
    liked = taste[user, pl.Series(genre).rank("dense").to_numpy() - 1] ^ (rng.random(n) < 0.1)
    return pl.DataFrame({"user_id": user, "zip": [f"z{u:04d}" for u in user], "genre": genre, "liked": liked})


def test_with_a_group_columns_and_crosses_are_scored_on_new_groups(workdir):
    """A cross of a user's zip and a genre memorizes each user's taste: it helps on rows of known users and not
    at all on new ones, which are what the --group split holds out."""
    tastes().write_csv(workdir / "t.csv")
    plain = build.draft_spec(workdir / "t.csv", "liked", output=workdir / "a.yaml")
    assert any({"user_id", "zip"} & set(x.columns) for x in plain.crosses)  # (zip: a second name of user_id)
    grouped = build.draft_spec(workdir / "t.csv", "liked", group="user_id", output=workdir / "b.yaml")
    assert not any("zip" in x.columns for x in grouped.crosses)
    assert "fitted on half the user_id values" in grouped.text


def test_the_default_spec_of_a_glob_is_named_before_its_wildcard(workdir):
    ratings(1000).write_parquet(workdir / "ml-1.parquet")
    ratings(1000, seed=1).write_parquet(workdir / "ml-2.parquet")
    r = invoke("init", "ml-*.parquet", "--label", "liked")
    assert r.exit_code == 0 and (workdir / "ml.yaml").exists() and "wrote ml.yaml" in r.stdout


def test_no_cross_of_a_column_and_one_it_determines(workdir):
    """A movie's genres come with its id: their cross is the id again, which the held-out statistics (one row
    per genre of a list) scored as a gain."""
    rng = np.random.default_rng(2)
    n, movies = 10_000, 300
    genres = np.array(["Action", "Children's", "Comedy", "Crime", "Drama", "Horror", "Romance", "Sci-Fi"])
    of_movie = [sorted(rng.choice(genres, rng.integers(1, 4), replace=False)) for _ in range(movies)]
    taste, quality = rng.normal(size=(600, len(genres))), rng.normal(size=movies)
    user, movie = rng.integers(0, 600, n), rng.integers(0, movies, n)
    score = [taste[u][np.isin(genres, of_movie[m])].mean() + quality[m] for u, m in zip(user, movie)]
    liked = np.asarray(score) + rng.normal(scale=0.8, size=n) > 0.5
    frame = pl.DataFrame(
        {"movie_id": movie, "genres": ["|".join(of_movie[m]) for m in movie], "liked": np.where(liked, "yes", "no")}
    )
    frame.write_csv(workdir / "ml.csv")
    d = build.draft_spec(workdir / "ml.csv", "liked", output=workdir / "a.yaml")
    assert not any({"movie_id", "genres"} <= set(x.columns) for x in d.crosses)


def test_codes_written_with_digits_are_values_not_quantities():
    """A zip code read as an integer (a join that inferred types) is a code; 'paid', a number, is no id."""
    from wdcli.draft.profile import profile_column

    rng = np.random.default_rng(0)
    zips = pl.Series("zip", rng.integers(1000, 1200, 500))
    assert profile_column("zip", zips, 500).kind == "categorical"
    assert profile_column("country_code", pl.Series(rng.integers(1, 50, 500).astype(str)), 500).kind == "categorical"
    assert profile_column("paid", pl.Series(rng.integers(0, 10_000, 500)), 500).kind == "numeric"


def test_all_numeric_data_drafts_a_spec_that_trains(workdir):
    """Two numbers that say nothing of the label: no bucketized copy gains, and there is no categorical
    column, while the wide part reads sparse columns only. init rejected its own draft (an internal error);
    it keeps the best bucketized copy for the wide part, and says why."""
    rng = np.random.default_rng(0)
    frame = pl.DataFrame({"a": rng.normal(size=5000), "b": rng.normal(size=5000)})
    frame.with_columns(clicked=pl.Series((rng.random(5000) < 0.3).astype(int))).write_parquet(workdir / "num.parquet")
    r = invoke("init", workdir / "num.parquet", "--label", "clicked", "--no-trials")
    assert r.exit_code == 0, r.output
    spec = load_spec(workdir / "num.yaml")
    assert [c for c, col in spec.columns.items() if col.kind == "bucketized"] in (["a_buckets"], ["b_buckets"])
    assert "the wide part's only sparse column" in (workdir / "num.yaml").read_text()
    r = invoke("train", workdir / "num.yaml", "-q", "--set", "train.epochs=1", "--output", workdir / "run")
    assert r.exit_code == 0, r.output


def test_a_list_whose_rows_mostly_hold_one_value_is_noted(workdir):
    """A walk's tweets: the accounts each mentions, '|'-joined, one in most rows and several in an eighth. init
    drafts it categorical ('@a|@b' a value of its own, which also tells that a row holds several: as a list, that
    walk's draft lost 0.0115 test AUC), and its line says how to read it as a list. Prose with ';' between
    clauses, whose pieces never stand alone, gets no such note."""
    rng = np.random.default_rng(0)
    accounts = [f"@user{i}" for i in range(40)]
    mentions = [
        "|".join(rng.choice(accounts, 2, replace=False)) if rng.random() < 0.12 else str(rng.choice(accounts))
        for _ in range(600)
    ]
    notes = [f"note {i % 90}; see {i % 7}" if i % 8 == 0 else f"note {i % 90}" for i in range(600)]
    pl.DataFrame({"mentions": mentions, "notes": notes, "y": rng.integers(0, 2, 600)}).write_csv(workdir / "t.csv")
    r = runner.invoke(app, ["init", "t.csv", "--label", "y", "-o", "s.yaml"])
    assert r.exit_code == 0, r.output
    columns = load_spec(workdir / "s.yaml").columns
    assert columns["mentions"].kind == "categorical" and columns["notes"].kind == "categorical"
    text = (workdir / "s.yaml").read_text()
    assert "of its values join values of its own with '|': --kind mentions=multivalent reads them as lists" in text
    assert "--kind notes" not in text


def test_a_bucketized_copy_keeps_its_quantiles_apart_however_large_its_values():
    """Two significant digits made every year 2000, every longitude -120 and every air pressure 1000: one
    boundary where the data had nine. The draft's boundaries keep the nine apart with the fewest digits that do,
    and stay at two where two suffice (incomes)."""
    from wdcli.draft.cuts import bucket_boundaries

    rng = np.random.default_rng(0)
    years = rng.integers(1990, 2016, 5_000).astype(float)
    longitudes = rng.uniform(-124.3, -114.3, 5_000)
    pressures = rng.normal(1013, 7, 5_000)
    for values in (years, longitudes, pressures):
        edges = bucket_boundaries(values)
        assert len(edges) == 9 and edges == sorted(edges), edges
        cut = np.searchsorted(edges, values, side="right")
        assert np.bincount(cut).min() > 0.05 * len(values)  # (about tenths: each bucket holds rows)
    assert 1995 < bucket_boundaries(years)[2] < 2000 and all(e == int(e) for e in bucket_boundaries(years))
    incomes = bucket_boundaries(rng.lognormal(1.2, 0.5, 5_000))
    assert len(incomes) == 9 and all(len(f"{e:g}".replace(".", "").lstrip("0")) <= 2 for e in incomes), incomes


def test_a_cross_of_two_numbers_is_drawn_on_a_finer_grid_where_held_out_rows_say_so():
    """A map (the label's rate a checkerboard of 8 x 8 squares over two numbers, as prices over latitude and
    longitude) is blurred by ten buckets a side: the draft's chosen cross of the two is redrawn on twenty
    (`x_grid`, `y_grid`, bucketized copies of their own), its comment says how much of its gain that is; a
    cross of two numbers the label ignores keeps its ten."""
    from wdcli.draft import gain as G
    from wdcli.draft.crosses import Bucketized, Cross, bucket_codes, finer_grids
    from wdcli.draft.cuts import bucket_boundaries

    rng = np.random.default_rng(1)  # (not the scorer's seed: its halves would be x < 0.5 and x >= 0.5)
    n = 20_000
    values = {c: rng.random(n) for c in ("x", "y", "u", "v")}
    board = np.sign(np.sin(16 * np.pi * values["x"]) * np.sin(16 * np.pi * values["y"]))
    label = (rng.random(n) < 1 / (1 + np.exp(-2.5 * board))).astype(float)
    buckets = [Bucketized(f"{c}_buckets", c, bucket_boundaries(values[c])) for c in values]
    coded = {b.name: bucket_codes(b.name, values[b.source], b.boundaries) for b in buckets}
    crosses = [Cross(("x_buckets", "y_buckets"), 0.05, 100, 1000), Cross(("u_buckets", "v_buckets"), 0.001, 100, 1000)]
    chosen, grids = finer_grids(crosses, buckets, values.__getitem__, coded, G.Scorer(label, 0), (n, n))
    assert chosen[0].columns == ("x_grid", "y_grid") and chosen[0].finer > 0.01
    assert chosen[0].gain == pytest.approx(0.05 + chosen[0].finer) and chosen[1] == crosses[1]
    assert [(g.name, g.source, len(g.boundaries)) for g in grids] == [("x_grid", "x", 19), ("y_grid", "y", 19)]
