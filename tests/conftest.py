from __future__ import annotations

import os

os.environ.setdefault("COLUMNS", "200")  # rich tables in CLI tests: wide enough not to fold names
# the tests pin bit-identical runs, which hold on the CPU: there `device: auto` means the CPU, also on a machine
# with a GPU (tests/test_device.py names cuda itself)
os.environ["WDCLI_AUTO_DEVICE"] = "cpu"
from pathlib import Path

import numpy as np
import polars as pl
import pytest

# Under pytest-xdist (`-n N`, scripts/test.sh) each worker keeps to one CPU of its own, as do the processes it
# starts: N workers on N cores then share nothing, where torch's threads in each would spin against the others'.
_worker = os.environ.get("PYTEST_XDIST_WORKER", "")
if _worker.startswith("gw") and hasattr(os, "sched_setaffinity"):
    _cpus = sorted(os.sched_getaffinity(0))
    if int(_worker[2:]) < len(_cpus):
        os.sched_setaffinity(0, {_cpus[int(_worker[2:])]})
        os.environ.setdefault("OMP_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parents[1]
SPECS = ROOT / "specs"


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """Run in a temporary folder (runs/ lands there)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def apps_frame(n: int = 400, seed: int = 0) -> pl.DataFrame:
    """A small frame with every column kind, multivalent included."""
    rng = np.random.default_rng(seed)
    apps = [f"app{i}" for i in range(30)]
    installed = ["|".join(rng.choice(apps, size=rng.integers(0, 5), replace=False)) for _ in range(n)]
    imp = rng.choice(apps, size=n)
    y = np.array([int(a in s.split("|")) for a, s in zip(imp, installed)])
    y = np.where(rng.random(n) < 0.2, 1 - y, y)
    return pl.DataFrame(
        {
            "user": [f"u{i % 50}" for i in range(n)],
            "installed": installed,
            "impression": imp,
            "country": rng.choice(["us", "de", "?", "fr"], size=n),
            "age": rng.integers(15, 80, size=n).astype(float),
            "clicked": y,
        }
    )


APPS_SPEC = """
data: {{train: {path}, split: {{validation: 0.2, test: 0.2, seed: 3}}}}
label: {{column: clicked, group: user}}
columns:
  installed: {{kind: multivalent, separator: "|", combiner: sqrtn}}
  impression: categorical
  country: {{kind: categorical, missing: ["?"]}}
  age: {{kind: numeric, transform: quantile, quantiles: 10}}
  age_b: {{kind: bucketized, source: age, quantiles: 4}}
crosses:
  - {{columns: [installed, impression], hash_buckets: 500}}
  - {{columns: [country, age_b], min_count: 1}}
deep:
  embedding_dim: 4
  shared: {{apps: [installed, impression]}}
  hidden: [8]
train: {{epochs: 2, batch_size: 64, seed: 1}}
"""


@pytest.fixture
def apps_spec(tmp_path) -> Path:
    data = tmp_path / "apps.csv"
    apps_frame().write_csv(data)
    spec = tmp_path / "apps.yaml"
    spec.write_text(APPS_SPEC.format(path=data.name))
    return spec


# ------------------------------------------------------------ rows a model learns within a few epochs

SIGNAL_SPEC = """
data: {{train: {path}, split: {{validation: {validation}, test: {test}}}}}
label: {{column: y, group: user}}
columns:
  item: categorical
  user_kind: categorical
  x: numeric
deep: {{embedding_dim: 4, hidden: [8]}}
train:
  epochs: 4
  batch_size: 100
  wide_optimizer: {{name: ftrl, alpha: 0.1}}
  deep_optimizer: {{name: adagrad, lr: 0.2}}
  checkpoint: {{enabled: false}}
"""


def signal_frame(n: int, seed: int) -> pl.DataFrame:
    """Rows whose label an item, a kind of user and a number give away (a model learns it within a few epochs),
    in groups of 20 rows (users)."""
    rng = np.random.default_rng(seed)
    item, kind, x = rng.integers(0, 12, n), rng.integers(0, 3, n), rng.normal(size=n)
    logit = np.linspace(-2.5, 2.5, 12)[item] + np.array([-1.0, 0.0, 1.0])[kind] + x - 0.8
    return pl.DataFrame(
        {
            "user": np.arange(n) // 20,
            "item": [f"i{i}" for i in item],
            "user_kind": [f"k{k}" for k in kind],
            "x": x,
            "y": (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int),
        }
    )


def fitter_fed(tmp_path, frame: pl.DataFrame, sizes: list[int]):
    """A Fitter of a spec of one number (`a`, label `y`) fed `frame` (written to t.parquet) in batches of
    `sizes` rows, not finished."""
    from wdcli.features.fit import Fitter
    from wdcli.spec import load_spec

    (tmp_path / "s.yaml").write_text(
        "data: {train: t.parquet}\nlabel: {column: y}\nmodel: deep\ncolumns: {a: numeric}\n"
    )
    frame.write_parquet(tmp_path / "t.parquet")
    fitter, start = Fitter(load_spec(tmp_path / "s.yaml")), 0
    for n in sizes:
        fitter.update(frame.slice(start, n))
        start += n
    return fitter
