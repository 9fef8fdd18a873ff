"""`wdcli tune`: search a spec's settings with Optuna on the training and validation rows (never the test rows).

The space names spec keys by their `--set` paths (`train.deep_optimizer.lr`, `deep.hidden`,
`crosses[0].hash_buckets`) with a range or a list of choices, from the spec's `tune.space` and `--space` flags
(or, when neither gives one, `default_space`). Each trial is the spec with its sampled values applied as
`--set` overrides, trained on the training rows with early stopping on the validation rows; each epoch's
validation metric goes to Optuna, whose median rule stops trials that trail the earlier ones. The study lives in
a SQLite file (`runs/<name>/tune/study.db`): running the same command again continues it. The best trial is
written as a spec that `wdcli train` takes (`best.yaml`), which trains the same model and reports the test rows.

    result = tune("specs/census.yaml", trials=40)
    result.best_spec     # runs/census/tune/best.yaml
"""

from .space import check_space, default_space, parse_space
from .study import TuneReporter, TuneResult, study_folder, tune

__all__ = ["TuneReporter", "TuneResult", "check_space", "default_space", "parse_space", "study_folder", "tune"]
