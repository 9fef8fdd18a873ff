"""A recommender's first day, as issue 23's walk: three files of movie ratings joined with Polars (a yes/no
label, a list of the movies each user liked before), `init --group`, `validate`, `train`, `eval`, `rank` and
`report` on the run's own test rows, and `serve`: each step as a user types it, with no surprise."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from wdcli.cli import app
from wdcli.data import io

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def movie_ratings(folder, users: int = 120, movies: int = 80, n: int = 3000, seed: int = 7) -> None:
    """users.csv, movies.csv and ratings.csv, joined into ml-1.parquet and ml-2.parquet as a user would."""
    rng = np.random.default_rng(seed)
    genres = ["Action", "Children's", "Comedy", "Drama", "Horror", "Sci-Fi"]
    pl.DataFrame(
        {"user_id": np.arange(users), "gender": rng.choice(["M", "F"], users), "age": rng.choice([18, 25, 35], users)}
    ).write_csv(folder / "users.csv")
    of_movie = ["|".join(sorted(rng.choice(genres, rng.integers(1, 3), replace=False))) for _ in range(movies)]
    pl.DataFrame(
        {"movie_id": np.arange(movies), "title": [f"Movie {i}" for i in range(movies)], "genres": of_movie}
    ).write_csv(folder / "movies.csv")
    quality = rng.normal(size=movies)
    movie = rng.integers(0, movies, n)
    rating = np.clip(np.round(3 + quality[movie] + rng.normal(scale=0.7, size=n)), 1, 5)
    pl.DataFrame(
        {"user_id": rng.integers(0, users, n), "movie_id": movie, "rating": rating, "ts": np.arange(n)}
    ).write_csv(folder / "ratings.csv")
    joined = (
        pl.read_csv(folder / "ratings.csv")
        .join(pl.read_csv(folder / "users.csv"), on="user_id")
        .join(pl.read_csv(folder / "movies.csv"), on="movie_id")
        .sort("user_id", "ts")
        .with_columns(liked=pl.when(pl.col("rating") >= 4).then(pl.lit("yes")).otherwise(pl.lit("no")))
    )
    before = []
    for (_,), g in joined.group_by(["user_id"], maintain_order=True):
        seen: list[int] = []
        for m, liked in zip(g["movie_id"], g["liked"]):
            before.append(list(seen))
            seen += [m] if liked == "yes" else []
    joined = joined.with_columns(liked_before=pl.Series(before, dtype=pl.List(pl.Int64))).drop("rating", "ts")
    half = len(joined) // 2
    joined[:half].write_parquet(folder / "ml-1.parquet")
    joined[half:].write_parquet(folder / "ml-2.parquet")


def test_a_recommenders_first_day(workdir):
    movie_ratings(workdir)
    r = invoke("init", "ml-*.parquet", "--label", "liked", "--group", "user_id")
    assert r.exit_code == 0, r.output
    assert "wrote ml.yaml" in r.stdout and "label: liked = 'yes' is the positive class (1)" in r.stderr
    assert "a cold-start split" in r.stderr and "title: names the same things as movie_id" in r.stdout
    assert invoke("validate", "ml.yaml").exit_code == 0
    r = invoke("train", "ml.yaml", "--set", "train.epochs=2")
    assert r.exit_code == 0, r.output
    header = next(line for line in r.stdout.splitlines() if "split" in line and "auc" in line)
    assert "gauc" in header
    r = invoke("eval", "--split", "test", "-q")
    assert r.exit_code == 0 and "test split" in r.stdout and "gauc" in r.stdout
    r = invoke("rank", "--split", "test", "--top-k", 3, "--output", "top3.csv", "-q")
    assert r.exit_code == 0, r.output
    top = io.read_table("top3.csv")
    assert top["rank"].cast(pl.Int64).max() == 3 and top["liked_before"].dtype == pl.String  # a list, joined by '|'
    pytest.importorskip("matplotlib")
    r = invoke("report", "--split", "test")
    assert r.exit_code == 0 and "plots of the run's test split" in r.stdout


def test_the_walk_serves_what_it_trained(workdir):
    pytest.importorskip("starlette")
    from starlette.testclient import TestClient

    from wdcli.serve.app import ServeConfig, Server

    movie_ratings(workdir)
    assert invoke("init", "ml-*.parquet", "--label", "liked", "--group", "user_id", "-q").exit_code == 0
    assert invoke("train", "ml.yaml", "--set", "train.epochs=1", "-q").exit_code == 0
    rows = io.read_table("ml-2.parquet").head(4).drop("liked").to_dicts()
    with TestClient(Server(ServeConfig(model="runs/ml", watch=False)).app(), base_url="http://127.0.0.1") as client:
        r = client.post("/rank", json={"rows": rows, "top_k": 2})
        assert r.status_code == 200 and r.json()["group_by"] == "user_id"
        r = client.post("/predict", json={"rows": [{**rows[0], "age": "old"}]})
        assert r.status_code == 422 and "(1 row); send numbers there" in r.json()["error"]
