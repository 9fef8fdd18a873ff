"""Does wdcli beat what a user would try instead? On each data set (bench/quality_data.py), on the same rows:
LightGBM (early stopping on the same validation rows), the item's liked-rate (where rows are ranked), and wdcli
as shipped, from a spec that only declares the columns (`defaults`), and as `wdcli init` drafts it (`init`), each
with the deep part's blocks as they are and switched on or off (`--variants`).

    pip install -e '.[bench]'                        # LightGBM, for the baseline
    python bench/bench_quality.py                    # every data set (hours on 2 cores)
    python bench/bench_quality.py --sets census,apps --specs shipped,init
    python bench/bench_quality.py --sets pairs --variants 'as is,dot=none' --seeds 0,1,2

Figures: test AUC; with groups, NDCG@10 and gAUC over the test rows' groups (`wdcli rank --split test`), the
popularity and LightGBM baselines scored by the same functions (wdcli.metrics). Each row is also appended to
bench/data/quality/results.jsonl. LightGBM takes the columns a spec declares, lists left out (it has no list
input), categorical columns as its categorical features.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl
from quality_data import DATA, DATASETS, ROOT, Dataset, positive_labels

from wdcli.data.split import load_splits
from wdcli.metrics import evaluate, ranking_metrics
from wdcli.spec import load_spec

SEPARATOR = ', separator: "|"'
VARIANTS = {  # name -> --set overrides
    "as is": [],
    "dot=none": ["deep.interaction=none"],
    "dot": ["deep.interaction=dot"],
    "cross": ["deep.interaction=cross"],
    "periodic": ["deep.numeric_embedding=periodic"],
    "piecewise": ["deep.numeric_embedding=piecewise"],
    "numeric=none": ["deep.numeric_embedding=none", "deep.numeric_embeddings={}"],
    "plateau": ["train.schedule=plateau"],
    "min_count=1": ["defaults.categorical.min_count=1", "defaults.multivalent.min_count=1"],
}


def wdcli(*args: str) -> str:
    p = subprocess.run([sys.executable, "-m", "wdcli", *args], capture_output=True, text=True, cwd=ROOT)
    if p.returncode != 0:
        raise RuntimeError(f"wdcli {' '.join(args)}:\n{p.stderr[-2000:]}")
    return p.stdout + p.stderr


def last_json(text: str) -> dict:
    return json.loads([line for line in text.splitlines() if line.startswith("{")][-1])


def spec_file(d: Dataset, which: str) -> Path:
    """The spec of a data set: shipped, the columns only (`defaults`), or `wdcli init`'s draft."""
    folder = DATA / d.name
    folder.mkdir(parents=True, exist_ok=True)
    if which == "shipped":
        assert d.shipped is not None
        return d.shipped
    path = folder / f"{which}.yaml"
    if which == "defaults":
        label = f"{{column: {d.label}" + (f", positive: '{d.positive}'" if d.positive else "")
        label += (f", group: {d.group}" if d.group else "") + "}"
        columns = "\n".join(
            f"  {json.dumps(c)}: {{kind: {k}{SEPARATOR if k == 'multivalent' else ''}}}" for c, k in d.kinds.items()
        )
        test = f"\n  test: {d.test}" if d.test else ""
        path.write_text(
            f"name: {d.name}\ndata:\n  train: {d.train}{test}\n  split: {d.split}\nlabel: {label}\n"
            f"columns:\n{columns}\n"
        )
    elif not path.exists():
        args = ["init", str(d.train), "--label", d.label, "-o", str(path), "--force"]
        args += ["--positive", d.positive] if d.positive else []
        args += ["--group", d.group] if d.group else []
        args += ["--test", str(d.test)] if d.test else []  # (the set's own test rows, as a user gives them)
        wdcli(*args)
    return path


def train_and_score(d: Dataset, spec: Path, sets: list[str], seed: int) -> dict:
    out = DATA / d.name / "runs" / f"{spec.stem}-{abs(hash((tuple(sets), seed))) % 10**8}"
    sets = [*sets, f"train.seed={seed}"]
    if spec.stem == "init":  # the draft's own split (by group, or by time) on the rows the baselines score
        sets += [f"data.test={d.test}"] if d.test else [f"data.split={d.split}"]
    t0 = time.perf_counter()
    r = last_json(
        wdcli(
            "train",
            str(spec),
            "--output",
            str(out),
            "--force",
            "--json",
            "-q",
            *[x for s in sets for x in ("--set", s)],
        )
    )
    test = r["metrics"]["test"]
    row = {"auc": test["auc"], "epochs": r["epochs"], "seconds": round(time.perf_counter() - t0, 1)}
    if d.group:
        m = last_json(
            wdcli(
                "rank",
                "--model",
                str(out),
                "--split",
                "test",
                "--k",
                "10",
                "--json",
                "-q",
                "--output",
                str(out / "ranked.parquet"),
            )
        )
        row.update(ndcg=m["ndcg@10"], gauc=m["gauc"])
    return row


def frames(d: Dataset) -> dict[str, pl.DataFrame]:
    return load_splits(load_spec(spec_file(d, "defaults")).data)


def popularity(d: Dataset, f: dict[str, pl.DataFrame]) -> dict:
    y = positive_labels(d, f["train"])
    prior = float(y.mean())
    rate = f["train"].with_columns(_y=pl.Series(y)).group_by(d.item).agg(l=pl.col("_y").sum(), n=pl.len())
    s = (
        f["test"]
        .join(rate, on=d.item, how="left")
        .select((pl.col("l").fill_null(0) + 2 * prior) / (pl.col("n").fill_null(0) + 2))
        .to_series()
        .to_numpy()
    )
    return scored(d, f["test"], s)


def scored(d: Dataset, test: pl.DataFrame, score: np.ndarray) -> dict:
    y = positive_labels(d, test)
    row = {"auc": evaluate(y, score)["auc"]}
    if d.group:
        ranked = test.select(d.group).with_columns(score=pl.Series(score, dtype=pl.Float64))
        ranked = ranked.with_columns(rank=pl.col("score").rank("ordinal", descending=True).over(d.group))
        m = ranking_metrics(ranked, d.group, y, 10)
        row.update(ndcg=m["ndcg@10"], gauc=m["gauc"])
    return row


def lightgbm(d: Dataset, f: dict[str, pl.DataFrame], seed: int) -> dict:
    import warnings

    import lightgbm as lgb

    # (4.7 renamed eval_set to eval_X/eval_y; the bench extra takes any 4.x, which all know eval_set)
    warnings.filterwarnings("ignore", message=".*eval_set.*deprecated")
    cols = [c for c, k in d.kinds.items() if k != "multivalent"]
    every = pl.concat([f["train"], f["validation"], f["test"]], how="diagonal_relaxed").select(cols).to_pandas()
    for c in cols:
        if d.kinds[c] == "categorical":
            every[c] = every[c].astype(str).astype("category")
    n1, n2 = len(f["train"]), len(f["train"]) + len(f["validation"])
    m = lgb.LGBMClassifier(n_estimators=5000, learning_rate=0.05, num_leaves=31, random_state=seed, verbose=-1)
    m.fit(
        every.iloc[:n1],
        positive_labels(d, f["train"]),
        eval_set=[(every.iloc[n1:n2], positive_labels(d, f["validation"]))],
        eval_metric="auc",
        callbacks=[lgb.early_stopping(100, verbose=False)],
    )
    return scored(d, f["test"], m.predict_proba(every.iloc[n2:], num_iteration=m.best_iteration_)[:, 1])


def show(d: Dataset, what: str, row: dict) -> None:
    figures = "  ".join(
        f"{k} {v:.4f}" if isinstance(v, float) and k != "seconds" else f"{k} {v}" for k, v in row.items()
    )
    print(f"{d.name:>10} | {what:<34} | {figures}", flush=True)
    with open(DATA / "results.jsonl", "a") as f:
        f.write(json.dumps({"data": d.name, "what": what, **row, "at": time.strftime("%Y-%m-%d %H:%M")}) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", default=",".join(DATASETS))
    ap.add_argument("--specs", default="shipped,defaults,init")
    ap.add_argument("--variants", default="as is")
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--baselines", default="popularity,lightgbm")
    a = ap.parse_args()
    seeds = [int(s) for s in a.seeds.split(",")]
    for name in a.sets.split(","):
        d = DATASETS[name]()
        f = frames(d)
        if "popularity" in a.baselines and d.item:
            show(d, "popularity (item's liked-rate)", popularity(d, f))
        if "lightgbm" in a.baselines:
            for seed in seeds:
                show(d, f"LightGBM (seed {seed})", lightgbm(d, f, seed))
        for which in a.specs.split(","):
            if which == "shipped" and d.shipped is None:
                continue
            spec = spec_file(d, which)
            for v in a.variants.split(","):
                for seed in seeds:
                    sets = [x for part in v.split("+") for x in VARIANTS[part]]  # ("dot+periodic": both)
                    show(d, f"wdcli {which} {v} (seed {seed})", train_and_score(d, spec, sets, seed))


if __name__ == "__main__":
    main()
