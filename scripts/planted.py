"""Planted bugs: does the suite notice when the behaviour breaks?

Each bug below is a small edit of the package that a careless change could make (a tie counted by row order, a
gate check replaced by True, a part of the model frozen). For each, this script copies the checkout to a
temporary folder, applies the edit there, runs the tests that should catch it, and reports whether they failed,
as they must. A bug that every test passes is a hole in the suite: write the test that fails, then keep the
bug here.

    python scripts/planted.py                 # every bug (a few minutes)
    python scripts/planted.py auc-ties tune-  # the bugs whose names start so
    python scripts/planted.py --list
    python scripts/planted.py --root ../old   # the bugs, against another checkout's tests (what they missed)

A new decision in the package (a threshold, a gate, a choice of the best) gets a line here with the test
that catches it: the planted-bug habit (docs/architecture.md, "What a test must show").
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Bug:
    name: str
    path: str  # the file edited, relative to the checkout
    old: str  # text that occurs exactly once in it ...
    new: str  # ... and what it becomes
    tests: tuple[str, ...]  # pytest node ids or files that must fail
    why: str = ""


QUALITY_TESTS = ("tests/test_quality.py", "tests/test_train.py", "tests/test_cli.py")
METRIC_TESTS = ("tests/test_metrics.py", "tests/test_report.py", "tests/test_verify.py", "tests/test_cli.py")
BUGS = [
    # ---- metrics (finding 5): a metric that is wrong, not merely out of range
    Bug(
        "auc-ties-by-row-order",
        "wdcli/metrics.py",
        "new[1:] = (k[1:] != k[:-1]) | (s[1:] != s[:-1])",
        "new[1:] = True",
        METRIC_TESTS,
        "AUC breaks tied scores by row order instead of counting them one half",
    ),
    Bug(
        "logloss-halved",
        "wdcli/metrics.py",
        "return float(np.average(loglosses(y, p), weights=w))",
        "return float(np.average(loglosses(y, p), weights=w)) / 2",
        METRIC_TESTS,
    ),
    Bug(
        "gauc-ignores-groups",
        "wdcli/metrics.py",
        "aucs, sizes, _ = group_aucs(y, s, groups)",
        "aucs, sizes, _ = group_aucs(y, s, np.zeros(len(y)))",
        METRIC_TESTS,
    ),
    Bug(
        "ndcg-discount-off-by-one",
        "wdcli/metrics.py",
        "np.log2(np.arange(2, k + 2))",
        "np.log2(np.arange(3, k + 3))",
        METRIC_TESTS,
    ),
    Bug(
        "map-averages-over-every-rank",
        "wdcli/metrics.py",
        '"ap": float(np.sum(ap[has] / npos[has])),',
        '"ap": float(np.sum(ap[has] / np.maximum(npos[has], 2))),',
        METRIC_TESTS,
        "AP divided by at least two positives: a group of one positive counts half",
    ),
    Bug(
        "mrr-of-the-last-positive",
        "wdcli/metrics.py",
        "first_block = (before == 0) & (p > 0)",
        "first_block = (before + p == npos[keys]) & (p > 0)",
        METRIC_TESTS,
        "the reciprocal rank of the block holding the last positive",
    ),
    Bug(
        "hit-rate-ties-in-row-order",
        "wdcli/metrics.py",
        "hit = np.where(sure, 1.0, across)",
        "hit = (np.bincount(keys, weights=(y > 0) & (rank <= k), minlength=n_groups) > 0).astype(float)",
        METRIC_TESTS,
        "a tie across place k counted in the rows' order, not as a coin would break it",
    ),
    Bug(
        "report-average-precision-of-the-previous-recall",
        "wdcli/report/curves.py",
        "ap = float(np.sum(np.diff(np.r_[0.0, recall]) * precision))",
        "ap = float(np.sum(np.diff(np.r_[0.0, recall]) * np.r_[1.0, precision[:-1]]))",
        METRIC_TESTS,
        "each step of recall taken at the precision before it (an interpolation that flatters)",
    ),
    # ---- the verify gate (finding 1): each check replaced by True
    *[
        Bug(
            f"verify-{name}-check-true",
            "wdcli/score/verify.py",
            condition,
            "True,",
            ("tests/test_verify.py",),
        )
        for name, condition in (
            ("auc", 'm_new["auc"] >= m_old["auc"] - t.max_auc_drop,'),
            ("logloss", 'm_new["logloss"] <= m_old["logloss"] + t.max_logloss_increase,'),
            ("calibration", 'abs(m_new["calibration"] - 1) <= cal,'),
            ("gauc", 'm_new["gauc"] >= m_old["gauc"] - t.max_gauc_drop,'),
        )
    ],
    # ---- tune (finding 2 and 8): the best trial, the direction, the pruner, failed, NaN and stale trials
    Bug(
        "tune-best-yaml-from-the-worst-trial",
        "wdcli/tune/study.py",
        "    best = _best_row(study, space)\n",
        '    best = [r for r in _rows(study, space) if r["state"] == "complete"][-1]\n',
        ("tests/test_tune.py",),
    ),
    Bug(
        "tune-trials-sorted-worst-first",
        "wdcli/tune/study.py",
        'sign = -1 if study.direction.name == "MAXIMIZE" else 1',
        'sign = 1 if study.direction.name == "MAXIMIZE" else -1',
        ("tests/test_tune.py",),
    ),
    Bug(
        "tune-direction-swapped",
        "wdcli/tune/study.py",
        'direction="maximize" if maximize else "minimize"',
        'direction="minimize" if maximize else "maximize"',
        ("tests/test_tune.py",),
    ),
    Bug(
        "tune-pruner-never-prunes",
        "wdcli/tune/study.py",
        "pruner=optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=2)",
        "pruner=optuna.pruners.NopPruner()",
        ("tests/test_tune.py",),
    ),
    Bug(
        "tune-nan-trial-told-as-complete",
        "wdcli/tune/study.py",
        "        if math.isnan(value):\n            trial.set_user_attr",
        "        if False:\n            trial.set_user_attr",
        ("tests/test_tune.py",),
    ),
    Bug(
        "tune-stale-trials-counted",
        "wdcli/tune/study.py",
        'and f"stale.{t.number}" not in stale ',
        "",
        ("tests/test_tune.py",),
    ),
    Bug(
        "tune-a-rejected-trial-ends-the-study",
        "wdcli/tune/study.py",
        "except WdcliError as e:  # a combination",
        "except DataError as e:  # a combination",
        ("tests/test_tune.py",),
    ),
    # ---- decisions of the fit and the draft made later: each with the test that catches it
    Bug(
        "min-count-auto-never-lowered",
        "wdcli/spec/vocabulary.py",
        "if counts is None or base <= 2:",
        "if True:",
        ("tests/test_pipeline.py",),
        "an id seen a few times each shares the out-of-vocabulary id (the pupils of star)",
    ),
    Bug(
        "periodic-numbers-not-clipped",
        "wdcli/features/numbers.py",
        'if read_as == "periodic":',
        "if False:",
        ("tests/test_pipeline.py", "tests/test_warm.py"),
        "a value past the training range reads as an arbitrary phase of the sines",
    ),
    Bug(
        "draft-crosses-a-column-with-one-it-gives",
        "wdcli/draft/crosses.py",
        "or _determined(values, first, second):",
        ":",
        ("tests/test_draft.py",),
    ),
    Bug(
        "ranking-reorders-tied-scores",
        "wdcli/metrics.py",
        "descending=[False, True], maintain_order=True)",
        "descending=[False, True])",
        ("tests/test_metrics.py",),
    ),
    Bug(
        "shares-merge-the-named-rows-out-of-order",
        "wdcli/features/fit.py",
        "out.head = _first_rows(out.head + share.head, NAMED_ROWS)",
        "out.head = _first_rows(share.head + out.head, NAMED_ROWS)",
        ("tests/test_fit_shares.py",),
    ),
]


BUGS += [
    # ---- init's draft (finding 3): the crosses it proposes
    Bug(
        "draft-cross-gain-sign-flipped",
        "wdcli/draft/gain.py",
        "return CrossGain(float(np.average(before)) - float(np.average(after)),",
        "return CrossGain(float(np.average(after)) - float(np.average(before)),",
        ("tests/test_draft.py",),
    ),
    Bug(
        "draft-cross-cell-ignores-its-second-column",
        "wdcli/draft/gain.py",
        "cell = dense_codes(ta * (b.size + 1) + tb)",
        "cell = dense_codes(ta)",
        ("tests/test_draft.py",),
    ),
    Bug(
        "draft-min-gain-zero",
        "wdcli/draft/crosses.py",
        "MIN_GAIN = 0.0005",
        "MIN_GAIN = 0.0",
        ("tests/test_draft.py",),
        "any pair that gains anything on the held-out half is proposed: noise too",
    ),
    Bug(
        "draft-crosses-below-min-gain-kept",
        "wdcli/draft/crosses.py",
        "if x.gain < MIN_GAIN or len(chosen) == MAX_CROSSES:",
        "if len(chosen) == MAX_CROSSES:",
        ("tests/test_draft.py",),
    ),
]


BUGS += [
    # ---- --set (finding 4): an override accepted but not applied
    Bug(
        "set-short-form-column-override-lost",
        "wdcli/spec/overrides.py",
        'node[seg] = {"kind": node[seg]}',
        'return {"kind": node[seg]}',
        ("tests/test_set_overrides.py",),
        "a key set under `c: categorical` goes into a copy of the column",
    ),
    Bug(
        "set-a-key-the-file-gives-is-ignored",
        "wdcli/spec/overrides.py",
        "node[str(last) if isinstance(last, int) and last not in node else last] = parsed",
        "node.setdefault(str(last) if isinstance(last, int) and last not in node else last, parsed)",
        ("tests/test_set_overrides.py",),
    ),
    Bug(
        "set-separator-accepted-not-kept",
        "wdcli/spec/settings.py",
        "        return separator_of(value)",
        '        return separator_of(value) and ","',
        ("tests/test_set_overrides.py",),
        "a validator that accepts any separator and keeps the default",
    ),
]


BUGS += [
    # ---- the gradient exchange of data-parallel training (finding 8)
    Bug(
        "exchange-dense-gradients-kept-local",
        "wdcli/train/exchange.py",
        "p.grad = flat[at : at + n].view_as(g).to(g.dtype)",
        "p.grad = g",
        ("tests/test_distributed.py::test_the_exchange_gives_every_process_the_gradient_of_one",),
    ),
    Bug(
        "exchange-sparse-rows-of-this-process-only",
        "wdcli/train/exchange.py",
        "            for r in range(self.world):\n                n = sizes[r][j]",
        "            for r in [self.rank]:\n                n = sizes[r][j]",
        ("tests/test_distributed.py::test_the_exchange_gives_every_process_the_gradient_of_one",),
    ),
    Bug(
        "exchange-extras-not-summed",
        "wdcli/train/exchange.py",
        "self._extras = flat[at : at + len(extras)].double().cpu()",
        "self._extras = extras.double().cpu()",
        ("tests/test_distributed.py::test_the_exchange_gives_every_process_the_gradient_of_one",),
    ),
]


BUGS += [
    # ---- serve (findings 1 and 8): a reload that holds up the event loop, the batcher, the watcher
    Bug(
        "serve-reload-blocks-the-event-loop",
        "wdcli/serve/models.py",
        "new = await asyncio.to_thread(load, path)",
        "new = load(path) if time.sleep(0.5) is None else None",
        ("tests/test_serve.py::test_hot_reload_swaps_models_without_a_failed_request",),
        "the new run loaded on the event loop, which waits half a second",
    ),
    Bug(
        "serve-batch-ignores-max-batch",
        "wdcli/serve/batcher.py",
        "(not taken or rows + len(self.pending[0].frame) <= self.max_rows)",
        "(not taken or True)",
        ("tests/test_serve.py",),
    ),
    Bug(
        "serve-watcher-retries-a-failed-run",
        "wdcli/serve/models.py",
        "            if stamp in self.skipped:",
        "            if explicit and stamp in self.skipped:",
        ("tests/test_serve.py",),
        "only an explicit reload remembers a run that failed; the watcher loads it again every interval",
    ),
    Bug(
        "serve-workers-never-follow",
        "wdcli/serve/models.py",
        "                    await self.reload(explicit=True)\n",
        "                    pass\n",
        ("tests/test_serve_procs.py::test_reload_reaches_every_worker_and_workers_die_with_their_parent",),
        "(--workers N) the other workers see the generation rise but never load the new run",
    ),
    Bug(
        "tune-json-no-best-exits-0",
        "wdcli/cli/tune_commands.py",
        "            raise typer.Exit(2)\n",
        "            return\n",
        ("tests/test_tune.py::test_a_study_where_no_trial_completes_exits_2_with_or_without_json",),
        "tune --json: a study where no trial completed exits 0, so a script takes it for a success",
    ),
    Bug(
        "whole-floats-read-as-text",
        "wdcli/features/clean.py",
        "    return df.with_columns(exprs) if exprs else df\n",
        "    return df\n",
        ("tests/test_encoder.py::test_a_category_is_the_same_whole_number_whichever_type_carries_it",),
        "a category's 300.0 (Parquet float, JSON float) reads '300.0', unseen beside the 300 of ints and CSV text",
    ),
    Bug(
        "cross-second-pass-reads-raw-floats",
        "wdcli/features/fit.py",
        "            df = fitted.clean(df)\n",
        "",
        ("tests/test_encoder.py::test_a_float_column_written_as_text_is_read_as_its_whole_numbers",),
        "a vocabulary cross over a float column counts '300.0' while transform looks up '300': every row is unseen",
    ),
    Bug(
        "time-split-cuts-a-run-of-one-time",
        "wdcli/data/time_split.py",
        '        .otherwise(pl.col("end"))\n',
        '        .otherwise(pl.col("_at"))\n',
        (
            "tests/test_time_split.py::test_a_purchase_of_candidates_sharing_its_time_stays_in_one_part",
            "tests/test_time_split.py::test_rows_of_one_time_are_never_cut_apart",
        ),
        "a split by time cuts a purchase's candidates (rows of one time) between train and test",
    ),
    Bug(
        "auto-reads-a-flag-as-a-spike",
        "wdcli/spec/blocks.py",
        'if self.kind == "auto" and (flag or (named and not spike)):',
        'if self.kind == "auto" and (named and not spike):',
        ("tests/test_values.py::test_auto_embeds_a_flag_with_missing_values_by_its_values_and_the_plan_says_why",),
        "a 0/1 answer with missing ones, filled with its mean, is read as a spike (periodic), not as three states",
    ),
    Bug(
        "whole-text-of-a-list-not-read",
        "wdcli/features/clean.py",
        "        elif dtype == pl.String and column in texts:  # (a list as text: its values)\n",
        "        elif dtype == pl.String and column in texts and False:\n",
        ("tests/test_encoder.py::test_a_list_of_ids_written_as_floats_shares_its_table_with_the_ids",),
        "a history of ids written '300.0|12.0' is fitted as '300' but looked up as '300.0': its shared ids unseen",
    ),
    Bug(
        "init-splits-days-per-day",
        "wdcli/draft/times.py",
        "    return share(after) >= FOLLOW_SHARE\n",
        "    return False\n",
        ("tests/test_draft_time.py::test_init_splits_groups_that_follow_one_another_in_time_by_one_cut",),
        "groups that follow one another in time (days) are split per group: training on the test rows' future",
    ),
    Bug(
        "init-says-nothing-of-lists-of-mostly-one-value",
        "wdcli/draft/profile.py",
        "        if share(pieces.is_in(alone.implode())) >= 0.6:\n",
        "        if False:\n",
        ("tests/test_draft_traps.py::test_a_list_whose_rows_mostly_hold_one_value_is_noted",),
        "a '|'-joined list holding one value in most rows is drafted categorical with no word of its lists",
    ),
    Bug(
        "init-drops-a-default-block-that-costs-nothing",
        "wdcli/draft/blocks.py",
        "        if self.on_by_default:  # the defaults stand unless the trial says they cost\n",
        "        if self.sampled and self.on_by_default:\n",
        ("tests/test_draft_blocks.py::test_a_block_is_kept_only_past_its_threshold",),
        "dot products (on by default) left out of a draft where the trial's noise gave them under 0.001 nats",
    ),
    Bug(
        "score-refuses-a-rare-value-among-rows-joined-right",
        "wdcli/features/joined.py",
        '& ~pl.col(c).str.contains(f.source.separator or "", literal=True).any()',
        "& pl.lit(True)",
        ("tests/test_serve_hostile.py::test_a_list_joined_by_another_separator_is_refused_and_says_how_to_send_it",),
        "one 'app1,app2' (a value the training rows had too rarely to keep) among '|'-joined rows fails the request",
    ),
    Bug(
        "score-takes-a-list-joined-by-another-separator",
        "wdcli/features/joined.py",
        "if found and (problem := _misjoined(",
        "if False and (problem := _misjoined(",
        (
            "tests/test_serve_hostile.py::test_a_list_joined_by_another_separator_is_refused_and_says_how_to_send_it",
            "tests/test_silent_mistakes.py::test_a_file_whose_lists_are_joined_by_another_separator_is_refused_by_predict",
        ),
        "'app1,app2' where the spec splits on '|' is scored as one unknown value, without a word",
    ),
    Bug(
        "init-reads-the-split-key-as-the-sample-casts-it",
        "wdcli/draft/held.py",
        "frame = _rows(path, reads, rows[at], separator) if reads else sample[at]",
        "frame = sample[at]",
        ("tests/test_draft.py::test_the_rows_left_out_are_training_s_test_rows_when_files_type_the_key_otherwise",),
        "an Int64 key in one Parquet file and a Float64 one in another: the sample's 5.0 hashes otherwise than 5",
    ),
    Bug(
        "init-drafts-from-one-group",
        "wdcli/draft/build.py",
        "    elif groups is not None and groups.filter(pl.Series(~test)).n_unique() < 2:\n",
        "    elif False:\n",
        ("tests/test_draft.py::test_a_sample_whose_test_rows_leave_too_little_is_a_clear_error",),
        "the drafted split's test rows leave one group: numpy's warnings and a draft of nothing measured",
    ),
    Bug(
        "set-list-without-brackets-unexplained",
        "wdcli/spec/loading.py",
        'if t == "list_type" and isinstance(inp, str)',
        "if False and isinstance(inp, str)",
        ("tests/test_silent_mistakes.py::test_a_list_set_without_brackets_says_how_to_write_it",),
        "--set deep.hidden=128,64 says 'should be a valid list' with no word of the brackets",
    ),
    Bug(
        "init-known-users-edit-half-said",
        "wdcli/draft/notes.py",
        '"data.split.key from {spec} and add {group}: categorical to its columns (the model then learns each {group})",',
        '"data.split.key from {spec}",',
        ("tests/test_draft_traps.py::test_init_says_what_group_does_to_the_split",),
        "init's note says to delete split.key for known users, not that the group must become a feature (a walk: "
        "0.712 AUC as told, 0.838 with the user a feature)",
    ),
    Bug(
        "init-learns-from-its-test-rows",
        "wdcli/draft/build.py",
        "sample.filter(~test), y[~test], int(test.sum())",
        "sample, y, 0",
        ("tests/test_draft.py::test_the_draft_learns_from_no_row_its_split_tests_on",),
        "init chooses crosses and blocks from the labels of the rows its drafted split then tests on",
    ),
    Bug(
        "init-reads-a-history-as-one-value",
        "wdcli/draft/profile.py",
        "(1.5 if tokens.len() >= 4 * len(text) else 4)",
        "(1.5 if tokens.len() >= 4 * len(text) else 99)",
        ("tests/test_draft_traps.py::test_an_id_and_a_list_of_the_same_ids_draft_a_spec_that_validates",),
        "a history of two or three ids a row, mostly unique as text in a small sample, is left out as an identifier",
    ),
    Bug(
        "init-reads-an-address-as-a-list",
        "wdcli/draft/profile.py",
        "(1.5 if tokens.len() >= 4 * len(text) else 4)",
        "(1.5 if tokens.len() >= 4 * len(text) else 2)",
        (
            "tests/test_draft.py::test_a_history_of_item_ids_is_a_list_in_a_small_sample_and_names_and_addresses_are_not",
        ),
        "'12 Elm St, Oslo, IL' is split into a list of its parts",
    ),
    Bug(
        "written-parts-read-as-a-pattern",
        "wdcli/data/io.py",
        "pl.scan_parquet(files, glob=False)",
        "pl.scan_parquet(files)",
        ("tests/test_file_edges.py::test_paths_with_glob_characters_are_files_not_patterns",),
        "an output in a folder named 'runs[1]' fails: its parts are read back as a glob pattern",
    ),
    Bug(
        "whole-text-not-read",
        "wdcli/features/clean.py",
        "        elif dtype == pl.String and column in texts and texts[column] is None:\n",
        "        elif dtype == pl.String and column in texts and texts[column] is None and False:\n",
        ("tests/test_encoder.py::test_a_float_column_written_as_text_is_read_as_its_whole_numbers",),
        "a CSV's '300.0' (pandas' integer column with a missing value) is fitted as '300' but looked up as '300.0'",
    ),
    Bug(
        "serve-workers-outlive-their-parent",
        "wdcli/serve/app.py",
        "        die_with_parent(config.parent)\n",
        "        pass\n",
        ("tests/test_serve_procs.py::test_reload_reaches_every_worker_and_workers_die_with_their_parent",),
        "kill -9 of serve --workers N leaves its workers serving the port: a restart finds it in use",
    ),
    Bug(
        "serve-batch-error-to-every-request",
        "wdcli/serve/batcher.py",
        """            for i in members:
                try:
                    results[i] = model.scorer.score(batch[i].frame, "request")
                except Exception as e:  # noqa: BLE001
                    results[i] = _as_bad_request(e, model, batch[i].frame)
""",
        """            for i in members:
                results[i] = _as_bad_request(e, model, batch[i].frame)
""",
        ("tests/test_serve.py::test_a_request_that_fails_its_batch_is_scored_again_alone_and_fails_alone",),
        "a batch that fails is not scored again request by request: one bad request fails every other of it",
    ),
]


BUGS += [
    # ---- serve (issue 21 #8 and #1): idle connections that lock the door; nesting that is parsed to be refused
    Bug(
        "serve-full-house-refuses-the-newcomer",
        "wdcli/serve/http.py",
        "            self.idle.popitem(last=False)[0]._shut()\n",
        "            transport.close()\n            return\n",
        ("tests/test_serve_procs.py::test_a_sustained_flood_of_idle_connections_does_not_lock_out_health",),
        "at the limit a new connection is closed, not the longest idle one: a flood of idle sockets holds the door",
    ),
    Bug(
        "serve-nesting-counts-brackets-in-strings",
        "wdcli/serve/bodies.py",
        'opens, closes = (folded == ord("{")) & outside, (folded == ord("}")) & outside',
        'opens, closes = folded == ord("{"), folded == ord("}")',
        ("tests/test_serve_hostile.py::test_brackets_quotes_and_backslashes_within_strings_do_not_count",),
    ),
    Bug(
        "serve-nesting-envelope-off-by-one",
        "wdcli/serve/bodies.py",
        "if deepest > limits.depth + ENVELOPE:",
        "if deepest > limits.depth + ENVELOPE + 1:",
        ("tests/test_serve_hostile.py",),
    ),
]


BUGS += [
    # ---- weights (finding 8): label.weight and a multivalent column's weights, for what they do
    Bug(
        "weights-label-weight-ignored-by-the-loss",
        "wdcli/train/trainer.py",
        "loss = F.binary_cross_entropy_with_logits(logits, label, weight=weight)\n",
        "loss = F.binary_cross_entropy_with_logits(logits, label)\n",
        ("tests/test_weights.py",),
    ),
    Bug(
        "weights-run-metrics-unweighted",
        "wdcli/train/trainer.py",
        'return evaluate(cat["label"], cat["score"], weight, group, ndcg)',
        'return evaluate(cat["label"], cat["score"], None, group, ndcg)',
        ("tests/test_weights.py",),
    ),
    Bug(
        "weights-multivalent-weights-misaligned",
        "wdcli/features/clean.py",
        "fill_null(0.0).to_numpy().astype(np.float32)[valid]",
        "fill_null(0.0).to_numpy().astype(np.float32)[: int(valid.sum())]",
        ("tests/test_weights.py",),
        "the weights of dropped (missing, capped) values are not dropped with them",
    ),
    Bug(
        "weights-sqrtn-and-mean-norms-swapped",
        "wdcli/model/widedeep.py",
        "w = bag.weights * bag.weights if squared else bag.weights",
        "w = bag.weights if squared else bag.weights * bag.weights",
        ("tests/test_weights.py",),
    ),
]


BUGS += [
    Bug(
        "export-force-ignored",
        "wdcli/cli/serve_commands.py",
        "and any(output.iterdir()) and not force:",
        "and any(output.iterdir()):",
        ("tests/test_export.py::test_export_force_replaces_an_export_whole",),
    ),
]


BUGS += [
    # ---- weight decay (finding 6): coupled (adam) and decoupled (adamw) swapped
    Bug(
        "optim-sparse-adam-decay-coupling-swapped",
        "wdcli/model/optim.py",
        'decoupled=opt.name == "adamw"',
        'decoupled=opt.name == "adam"',
        ("tests/test_optim.py",),
    ),
    Bug(
        "optim-dense-adam-and-adamw-swapped",
        "wdcli/model/optim.py",
        'cls = Adam if opt.name == "adam" else AdamW',
        'cls = AdamW if opt.name == "adam" else Adam',
        ("tests/test_optim.py",),
    ),
]


BUGS += [
    # ---- tolerances (finding 7): streamed training whose labels do not go with their rows
    Bug(
        "stream-labels-misaligned-in-a-batch",
        "wdcli/data/stream.py",
        "                yield data.rows(idx)",
        '                yield __import__("dataclasses").replace(data.rows(idx), label=data.label[idx.flip(0)])',
        ("tests/test_stream.py::test_stream_mode_trains_on_every_training_row_and_scores_like_memory",),
    ),
    Bug(
        "track-final-metrics-of-the-wrong-split",
        "wdcli/track/__init__.py",
        "            for k, v in m.items()\n",
        "            for k, v in metrics.splits[metrics.split].items()\n",
        ("tests/test_track.py",),
        "every split's final figures are the representative split's",
    ),
]


BUGS += [
    # ---- generated command lines (finding 7): a valid line wrongly refused
    Bug(
        "cli-patience-zero-refused",
        "wdcli/spec/settings.py",
        'patience: int = Field(3, ge=0, description="Epochs without improvement before stopping.")',
        'patience: int = Field(3, gt=0, description="Epochs without improvement before stopping.")',
        ("tests/test_cli_generated.py::test_each_good_set_alone_is_taken", "tests/test_cli_generated.py"),
        "train.early_stopping.patience=0 (stop at the first epoch without improvement) refused",
    ),
]


BUGS += [
    # ---- the quality floor: a part of the model that does not learn
    Bug(
        "quality-wide-part-frozen",
        "wdcli/model/optim.py",
        'hp = (group["alpha"], group["beta"], group["l1"], group["l2"])',
        'hp = (group["alpha"] * 1e-9, group["beta"], group["l1"], group["l2"])',
        QUALITY_TESTS,
        "FTRL's step 1e-9 of its size",
    ),
    Bug(
        "quality-deep-part-frozen",
        "wdcli/model/optim.py",
        'lr, eps, wd = group["lr"], group["eps"], group["weight_decay"]',
        'lr, eps, wd = group["lr"] * 1e-9, group["eps"], group["weight_decay"]',
        QUALITY_TESTS,
        "AdaGrad's step 1e-9 of its size",
    ),
    Bug(
        "quality-joint-model-drops-the-wide-part",
        "wdcli/model/widedeep.py",
        "if cfg.wide:\n            self.wide = nn.Embedding(self.layout.wide_size, 1, sparse=True)\n            nn.init.zeros_(self.wide.weight)",
        "if cfg.wide:\n            self.wide = nn.Embedding(self.layout.wide_size, 1, sparse=True)\n            nn.init.zeros_(self.wide.weight)\n            self.wide.weight.requires_grad_(cfg.deep is None or not cfg.deep)",
        QUALITY_TESTS,
        "in the joint model the wide part's weights are never trained",
    ),
]


BUGS += [
    # ---- eval of several runs: one encoding per pipeline, and a cache read only where it is the run's
    Bug(
        "eval-runs-of-other-pipelines-share-an-encoding",
        "wdcli/score/scorer.py",
        "groups.setdefault(scorer.encoding, []).append(i)",
        'groups.setdefault("", []).append(i)',
        ("tests/test_eval_runs.py",),
        "every run scored on the first run's encoding of the rows, though its features differ",
    ),
    Bug(
        "eval-reads-a-cache-of-another-pipeline",
        "wdcli/score/evaluation.py",
        "if kept is None or encoding_of(kept[0]) != scorer.encoding:",
        "if kept is None:",
        ("tests/test_eval_runs.py::test_a_cache_whose_pipeline_is_not_the_runs_is_not_read",),
        "a run's own rows scored from shards another pipeline encoded",
    ),
    Bug(
        "eval-split-read-in-other-chunks-than-its-shards",
        "wdcli/score/evaluation.py",
        "rows.batches(size), rows.where)",
        "rows.batches(batch_rows), rows.where)",
        ("tests/test_eval_runs.py::test_the_runs_own_part_is_scored_from_the_cache_as_from_the_files",),
        "a part read from its files in batches other than its shards: figures that move with the cache",
    ),
    # ---- a run folder's files read outside load_artifact (issue 21): a FIFO waits forever, an alias bomb expands
    Bug(
        "run-split-record-read-as-any-file",
        "wdcli/artifact.py",
        "raw = file_in(art.path, SPLIT).read_bytes()",
        "raw = file.read_bytes()",
        ("tests/test_artifact_checks.py::test_a_run_file_the_manifest_does_not_list_that_is_a_fifo_does_not_hang",),
        "a FIFO in place of an unlisted split.json hangs `eval --split`",
    ),
    Bug(
        "run-optimizer-state-read-as-any-file",
        "wdcli/artifact.py",
        "return load_file(str(file_in(art.path, OPTIMIZER)))",
        "return load_file(str(file))",
        (
            "tests/test_artifact_checks.py::test_a_run_file_the_manifest_does_not_list_that_is_a_fifo_does_not_hang"
            "[optimizer state]",
        ),
        "a FIFO in place of an unlisted optimizer.safetensors hangs a warm start",
    ),
    Bug(
        "runs-listing-reads-metrics-as-any-file",
        "wdcli/report/runs.py",
        'raw = json.loads(file_in(folder, "metrics.json").read_text())',
        'raw = json.loads((folder / "metrics.json").read_text())',
        ("tests/test_artifact_checks.py::test_runs_leaves_out_a_run_whose_file_is_a_fifo",),
        "a FIFO in place of a run's metrics.json hangs `wdcli runs`",
    ),
    Bug(
        "run-spec-read-without-bounds",
        "wdcli/artifact.py",
        'return load_bounded(file_in(folder, "spec.yaml").read_text(encoding="utf-8"), str(file))',
        'return yaml.safe_load(file_in(folder, "spec.yaml").read_text(encoding="utf-8"))',
        ("tests/test_artifact_checks.py::test_a_run_spec_whose_aliases_expand_without_bound_is_refused_at_once",),
        "a billion laughs in a run's spec.yaml (its checksum updated) hangs inspect, eval and runs",
    ),
    # ---- init: whole numbers that may be codes, tried as categories
    Bug(
        "draft-codes-kept-without-a-gain",
        "wdcli/draft/codes.py",
        "saves = a[0] - b[0] >= (BLOCK_GAIN if codes[name] else VALUE_GAIN)",
        "saves = a[0] - b[0] >= (-BLOCK_GAIN if codes[name] else VALUE_GAIN)",
        ("tests/test_draft_codes.py",),
        "a column read as categories though its trial lost (within a BLOCK_GAIN)",
    ),
    Bug(
        "draft-codes-values-kept-at-the-codes-gain",
        "wdcli/draft/codes.py",
        "saves = a[0] - b[0] >= (BLOCK_GAIN if codes[name] else VALUE_GAIN)",
        "saves = a[0] - b[0] >= BLOCK_GAIN",
        ("tests/test_draft_codes.py",),
        "numbers that are not codes read as categories on a codes' gain (stops' longitude: -0.004 test AUC)",
    ),
    Bug(
        "draft-codes-tried-together",
        "wdcli/draft/codes.py",
        "drafts[(name,)] = assemble(_swapped(d, [name]))",
        "drafts[(name,)] = assemble(_swapped(d, names))",
        ("tests/test_draft_codes.py",),
        "every candidate judged by the trial of them all at once",
    ),
    Bug(
        "draft-codes-kept-together-though-they-lose",
        "wdcli/draft/codes.py",
        "if both is None or both[0] > kept[0][0]:",
        "if both is None:",
        ("tests/test_draft_codes.py",),
        "candidates that each gain alone kept together though together they lose",
    ),
    Bug(
        "draft-codes-gauc-drop-ignored",
        "wdcli/draft/codes.py",
        "if (saves and gauc > -GROUP_GAUC) or",
        "if saves or",
        ("tests/test_draft_codes.py",),
        "a candidate kept as categories though its trial's gAUC fell by GROUP_GAUC or more",
    ),
    Bug(
        "draft-codes-grouped-gauc-ignored",
        "wdcli/draft/codes.py",
        "or (name in grouped and gauc >= GROUP_GAUC):",
        "or (name in grouped and gauc >= 1):",
        ("tests/test_draft_codes.py",),
        "a household's number whose trial raised the gAUC kept a number because its pooled log loss did not fall",
    ),
    Bug(
        "draft-codes-gauc-for-any-column",
        "wdcli/draft/codes.py",
        "or (name in grouped and gauc >= GROUP_GAUC):",
        "or (gauc >= GROUP_GAUC):",
        ("tests/test_draft_codes.py",),
        "any candidate read as categories on a gAUC gain alone, not only numbers of one value a group",
    ),
    Bug(
        "draft-known-users-never-seen",
        "wdcli/draft/held.py",
        "return share is not None and share >= 0.5",
        "return share is not None and share >= 2",
        ("tests/test_draft.py::test_init_with_a_test_file_of_known_users_splits_rows_and_learns_the_user",),
        "a --test file of the training data's users drafted as a cold-start split",
    ),
    Bug(
        "draft-known-user-no-feature",
        "wdcli/draft/build.py",
        "known = group if d.per or d.known else None",
        "known = group if d.per else None",
        ("tests/test_draft.py::test_init_with_a_test_file_of_known_users_splits_rows_and_learns_the_user",),
        "known users (their --test rows later answers) left out of the features",
    ),
    Bug(
        "draft-known-users-split-by-key",
        "wdcli/draft/held.py",
        "    elif d.known:  # (only with --test",
        "    elif False:  # (only with --test",
        ("tests/test_draft.py::test_init_with_a_test_file_of_known_users_splits_rows_and_learns_the_user",),
        "known users validated on users the model never saw",
    ),
    Bug(
        "artifact-manifest-nesting-a-bug",
        "wdcli/artifact.py",
        "except (ValueError, KeyError, TypeError, AssertionError, RecursionError):",
        "except (ValueError, KeyError, TypeError, AssertionError):",
        ("tests/test_bad_input.py",),
        "a manifest nested past the stack ends as 'a bug in wdcli' (exit 1)",
    ),
    Bug(
        "serve-list-values-unbounded",
        "wdcli/serve/bodies.py",
        "    _check_list_values(frame, spec, limits)\n",
        "",
        ("tests/test_serve_hostile.py",),
        "a request of millions of list values (separators) is looked up: GBs and seconds",
    ),
    Bug(
        "serve-group-types-merged",
        "wdcli/serve/bodies.py",
        'if use == "group" and len({_SCALARS.get(type(v)) for v in values} - {None}) > 1:',
        "if False:",
        ("tests/test_serve_hostile.py",),
        "/rank ranks 1, '1' and true as one group with a 200",
    ),
    Bug(
        "serve-origin-null-answered",
        "wdcli/serve/http.py",
        'if self.hosts and origin == "null":',
        "if False:",
        ("tests/test_serve_hostile.py",),
        "a sandboxed page's script (Origin: null) can reload and score",
    ),
    Bug(
        "serve-receiving-unbounded",
        "wdcli/serve/app.py",
        "if self.receiving > RECEIVING * self.max_body:",
        "if False:",
        ("tests/test_serve_hostile.py",),
        "many slow large bodies at once exhaust a worker's memory",
    ),
    Bug(
        "serve-receiving-never-counted-back",
        "wdcli/serve/app.py",
        "            self.receiving -= total\n",
        "            pass\n",
        ("tests/test_serve_hostile.py",),
        "bodies' bytes never counted back: the server answers 503 for ever",
    ),
    Bug(
        "draft-test-file-columns-unchecked",
        "wdcli/draft/build.py",
        "        _check_test_columns(spec)\n",
        "",
        ("tests/test_draft.py::test_init_with_a_test_file_of_known_users_splits_rows_and_learns_the_user",),
        "a draft written for a --test file that lacks a column it reads (validate then refuses it)",
    ),
    Bug(
        "eval-ungrouped-rows-unsaid",
        "wdcli/metrics.py",
        "if missing := len(y) - len(_grouped(y, p, groups)[0]):",
        "if missing := 0:",
        ("tests/test_metrics.py",),
        "eval's gAUC and NDCG silently of the rows that have a group value",
    ),
    Bug(
        "draft-block-gain-rounded-to-its-bar",
        "wdcli/draft/blocks.py",
        "digits = 5 if round(abs(self.gain), 4)",
        "digits = 4 if round(abs(self.gain), 4)",
        ("tests/test_draft_blocks.py",),
        "'gain +0.0010 ... left out (under 0.001 nats)': a comment that contradicts itself",
    ),
    Bug(
        "check-split-key-feature-unsaid",
        "wdcli/train/checks.py",
        "        + check_key_feature(spec)\n",
        "",
        ("tests/test_silent_mistakes.py",),
        "a split key declared as a feature, of no use on any held-out row, said nothing",
    ),
    Bug(
        "set-quoted-name-split-on-its-dots",
        "wdcli/spec/overrides.py",
        "            parts.append(double or single)\n",
        '            parts.extend((double or single).split("."))\n',
        ("tests/test_set_overrides.py",),
        "a quoted column name with dots split into keys: no --set reaches R's sleep.hours",
    ),
    Bug(
        "serve-reload-storm-rounds-every-worker",
        "wdcli/serve/models.py",
        'if body.get("status") == "unchanged":',
        "if False:",
        ("tests/test_serve_procs.py",),
        "every /reload of nothing new starts a round of the other workers (190 ms each, a storm's p50 four-fold)",
    ),
    Bug(
        "serve-parses-unbounded",
        "wdcli/serve/app.py",
        "self.parsing = asyncio.Semaphore(PARSES)",
        "self.parsing = asyncio.Semaphore(64)",
        ("tests/test_serve_hostile.py",),
        "every large body parsed at once: memory grows with the bodies arriving together",
    ),
    Bug(
        "draft-gain-newton-steps-unbounded",
        "wdcli/draft/gain.py",
        "e += np.clip((grad - PRIOR * e) / (hess + PRIOR), -MAX_STEP, MAX_STEP)",
        "e += (grad - PRIOR * e) / (hess + PRIOR)",
        ("tests/test_draft.py",),
        "at a rare label the sweeps diverge: every column scores -0.09 nats and AUC 0.5, and init drafts blind",
    ),
    Bug(
        "time-split-through-small-groups-silent",
        "wdcli/train/checks.py",
        "    if torn <= LONE:",
        "    if True:",
        ("tests/test_silent_mistakes.py",),
        "a split by a time that differs within each choice situation cut 96% of them apart, and nothing said so",
    ),
    Bug(
        "draft-leak-by-bucketized-copy-missed",
        "wdcli/draft/build.py",
        "named = [n for n in (c.name, copies.get(c.name)) if n in d.scores]",
        "named = [n for n in (c.name,) if n in d.scores]",
        ("tests/test_draft.py",),
        "a lab value that gives the result away through its bucketized copy (AUC 0.997) is drafted as a feature",
    ),
    Bug(
        "batch-size-auto-ignores-small-data",
        "wdcli/spec/settings.py",
        "return 256 if rows < SMALL_DATA else 512",
        "return 512",
        ("tests/test_train.py",),
        "small data trained at 512 a step: a few dozen steps an epoch, stopped by noise (COVID tests 0.711 vs 0.821)",
    ),
    Bug(
        "overconfident-held-out-unsaid",
        "wdcli/metrics.py",
        "        if loss > rate:  # (False where either is NaN)",
        "        if loss > rate + 1:",
        ("tests/test_metrics.py",),
        "a kept epoch whose test log loss is worse than the base rate's said nothing",
    ),
    Bug(
        "draft-auto-untried-where-it-embeds-nothing",
        "wdcli/run.py",
        "            for form in forms:  # (auto that embeds no number: the numbers read standardized, as the defaults do)",
        "            for form in [f for f in forms if f != 'auto' or embeds]:",
        ("tests/test_draft_blocks.py",),
        "numbers drafted by 50 quantiles untried against the defaults' reading (protein data: 0.946 against 0.963 AUC)",
    ),
    Bug(
        "typed-output-drops-leading-zeros",
        "wdcli/data/text_types.py",
        " & ~col.str.contains(PADDED) & ",
        " & ",
        ("tests/test_cli_walk.py",),
        "predict to Parquet wrote ids 00045971 as 45971: scoring its output again, every customer was unknown",
    ),
    Bug(
        "test-file-that-is-a-training-file-unsaid",
        "wdcli/train/checks.py",
        "        + check_held_out_files(spec)\n",
        "",
        ("tests/test_silent_mistakes.py",),
        "data.test set to the training file reported test AUC 0.901 against 0.876, and nothing said so",
    ),
    Bug(
        "list-declared-categorical-unsaid",
        "wdcli/train/checks.py",
        "        + check_joined_lists(spec)\n",
        "",
        ("tests/test_silent_mistakes.py",),
        "a previous basket 'a|b|c' declared categorical: each whole list one category, and nothing said",
    ),
    Bug(
        "clip-auto-spread-of-far-values",
        "wdcli/features/fit.py",
        "        far = numbers.far_bounds(present) if name in self.auto_clipped else None\n",
        "        far = None\n",
        ("tests/test_pipeline.py",),
        "a sentinel of 1e9 in 3 of 30,000 hours made their deviation 1e7: every hour read ~0 (census 0.929 -> 0.921)",
    ),
    Bug(
        "draft-buckets-merged-by-rounding",
        "wdcli/draft/cuts.py",
        "    for digits in range(2, 7):",
        "    for digits in range(2, 3):",
        ("tests/test_draft_traps.py",),
        "two significant digits made every year 2000 and every longitude -120: one boundary where there were nine",
    ),
    Bug(
        "draft-no-finer-grid",
        "wdcli/draft/crosses.py",
        "        if g.gain < SURE * g.se:\n",
        "        if True or g.gain < SURE * g.se:\n",
        ("tests/test_draft_traps.py",),
        "a map of two numbers drawn at ten buckets a side: California's latitude x longitude cross added nothing",
    ),
    Bug(
        "still-improving-said-after-patience",
        "wdcli/cli/train_commands.py",
        "    if best == 1 or len(h) - best >= max(stop.patience, 1):\n",
        "    if best == 1 or len(h) - best > max(stop.patience, 1):\n",
        ("tests/test_first_day.py::test_a_run_its_epochs_cut_while_it_improved_says_more_may_help",),
        "a run whose last `patience` epochs brought nothing better told more epochs may help",
    ),
    # ---- numeric_embedding values (issue 20): a number whose values name things
    Bug(
        "values-named-without-the-standard-errors",
        "wdcli/features/numbers.py",
        "return bool(gain >= NAMED_GAIN and gain >= NAMED_SPREAD * spread)",
        "return bool(gain >= NAMED_GAIN)",
        ("tests/test_values.py",),
        "a number marked as naming things on noise its held-out half cannot tell from none",
    ),
    Bug(
        "values-named-beside-the-column-that-names-them",
        "wdcli/features/fit.py",
        "names = names and name in self.read and self._names_alone(name)",
        "names = names and name in self.read",
        ("tests/test_values.py",),
        "an item's price embedded by its values beside the item's own embedding (taste: -0.017 NDCG@10)",
    ),
    Bug(
        "values-auto-before-a-spike",
        "wdcli/spec/blocks.py",
        'if self.kind == "auto" and (flag or (named and not spike)):',
        'if self.kind == "auto" and (flag or named):',
        ("tests/test_values.py",),
        "census's capital gains (a spike whose values also name things) embedded by values, not periodic",
    ),
    Bug(
        "values-matched-to-the-nearest-known",
        "wdcli/model/blocks.py",
        "i = torch.where(near <= tol, k + 1, torch.zeros_like(k))  # 0: a value it does not know",
        "i = k + 1",
        ("tests/test_values.py",),
        "a value the column never saw takes its nearest known value's vector (another household's)",
    ),
    Bug(
        "values-forgotten-by-a-warm-start",
        "wdcli/train/warm.py",
        'known = known_in(old, new.model_copy(update={"clip": clip})) if was.kind == "values" else []',
        "known = new.known",
        ("tests/test_values.py",),
        "a warm start hands each trained vector to whatever value now sits at its row",
    ),
    Bug(
        "values-kept-by-a-warm-start-in-the-old-units",
        "wdcli/train/warm.py",
        'known = known_in(old, new.model_copy(update={"clip": clip})) if was.kind == "values" else []',
        'known = list(old.known) if was.kind == "values" else []',
        ("tests/test_values.py",),
        "day 1's standardized values kept under day 2's mean and spread: 0.2% of rows read a known value",
    ),
    Bug(
        "numbers-alone-refused-for-want-of-a-wide-part",
        "wdcli/spec/types.py",
        'return {**raw, "columns": columns, **({"model": "deep"} if deep else {})}',
        'return {**raw, "columns": columns}',
        ("tests/test_bad_specs.py",),
        "a columns-only spec of numbers refused: 'the wide part needs a categorical ... column'",
    ),
    Bug(
        "values-named-with-the-rows-own-label",
        "wdcli/features/numbers.py",
        "others = (np.bincount(inverse, y, len(seen))[inverse] - y + 5 * base) / (n - 1 + 5)",
        "others = (np.bincount(inverse, y, len(seen))[inverse] + 5 * base) / (n + 5)",
        ("tests/test_values.py",),
        "a row predicted from its value's rows, itself among them: ids of two or three noisy rows look named",
    ),
    Bug(
        "values-named-on-copies-of-rows",
        "wdcli/features/numbers.py",
        "    return rows[np.sort(np.unique(whole, return_index=True)[1])]\n",
        "    return rows\n",
        ("tests/test_values.py", "tests/test_verify.py"),
        "copies of a row (oversampled positives) answer for it when it is left out: every number looks named",
    ),
    Bug(
        "draft-blind-to-a-groups-number",
        "wdcli/draft/build.py",
        "    codes = candidates(d.columns, gain, grouped)\n",
        "    codes = candidates(d.columns, gain)\n",
        ("tests/test_draft_codes.py::test_a_households_number_constant_in_each_group_is_tried_as_categories",),
        "a household's number, one value per choice, gains nothing alone and is never tried as categories",
    ),
    Bug(
        "values-through-a-step-quantile",
        "wdcli/features/numbers.py",
        'return numeric.named and (numeric.smooth or getattr(col, "transform", None) != "quantile")',
        "return numeric.named",
        ("tests/test_values.py",),
        "a quantile column fitted before smooth embedded by its bins' positions: 800 incomes as 96 shared vectors",
    ),
    Bug(
        "values-never-through-a-quantile",
        "wdcli/features/numbers.py",
        'return numeric.named and (numeric.smooth or getattr(col, "transform", None) != "quantile")',
        'return numeric.named and getattr(col, "transform", None) != "quantile"',
        ("tests/test_values.py",),
        "a household's income read along its quantiles never embedded by its values (doctor: 0.05 AUC)",
    ),
    Bug(
        "values-of-a-quantile-kept-as-positions-on-warm-start",
        "wdcli/features/numbers.py",
        "z = np.interp(z, at, knots)",
        "z = z",
        ("tests/test_values.py",),
        "a warm start's known positions read as raw values: each vector moves to another household's income",
    ),
    Bug(
        "values-keep-the-fill",
        "wdcli/features/numbers.py",
        "seen, counts = seen[seen != numeric.fill], counts[seen != numeric.fill]",
        "pass",
        ("tests/test_values.py",),
        "every missing row trains the vector of the household whose income is the median",
    ),
    Bug(
        "values-of-numbers-outside-the-deep-part",
        "wdcli/features/numbers.py",
        'return {n for n in numbers if spec.deep.numeric_embedding_of(n).kind in ("auto", "values")}',
        "return set(spec.numeric_columns())",
        ("tests/test_values.py",),
        "10,000 values fitted and stored for a number no model part reads",
    ),
    Bug(
        "quantile-read-as-the-step",
        "wdcli/features/fit.py",
        'smooth=col.transform == "quantile",',
        "smooth=False,",
        ("tests/test_pipeline.py", "tests/test_blocks.py"),
        "census's capital gains through the paper's step: a handful of values, 0.010 test AUC lost",
    ),
    Bug(
        "log1p-read-unscaled",
        "wdcli/features/numbers.py",
        'SCALED = ("log1p",)',
        "SCALED = ()",
        ("tests/test_pipeline.py",),
        "log incomes of ~11 +- 1 into the MLP: loans 0.71 test AUC against 0.83",
    ),
    Bug(
        "scale-read-back-wrong-on-warm-start",
        "wdcli/features/numbers.py",
        "    z = z * old.spread + old.center\n",
        "",
        ("tests/test_values.py",),
        "a warm start's known log1p values land where no row of them does",
    ),
    Bug(
        "tune-runs-every-failing-trial",
        "wdcli/tune/study.py",
        "if len(failed) == ALIKE and len(set(failed)) == 1:",
        "if False:",
        ("tests/test_tune.py",),
        "20 trials each failing on one data error, each reading and fitting again",
    ),
    # ---- features, model, export, label, tune space, score files (mutation hunt B)
    Bug(
        "vocabulary-first-value-shares-the-oov-id",
        "wdcli/features/fitted.py",
        "ids = codes.fill_null(0).to_numpy().astype(np.int64) + 1 + self.oov",
        "ids = codes.fill_null(0).to_numpy().astype(np.int64) + self.oov",
        (
            "tests/test_pipeline.py::test_each_id_is_missing_out_of_vocabulary_or_a_value_never_two_of_them",
            "tests/test_encoder.py",
        ),
        "the most frequent value takes the out-of-vocabulary id: both learn one weight",
    ),
    Bug(
        "vocabulary-oov-bucket-is-the-missing-id",
        "wdcli/features/fitted.py",
        "return np.ones(len(h), dtype=np.int64) if self.oov == 1 else hashing.bucket(h, self.oov) + 1",
        "return np.ones(len(h), dtype=np.int64) if self.oov == 1 else hashing.bucket(h, self.oov)",
        ("tests/test_pipeline.py::test_each_id_is_missing_out_of_vocabulary_or_a_value_never_two_of_them",),
        "with oov buckets > 1, unseen values hashed to bucket 0 read as missing",
    ),
    Bug(
        "buckets-a-boundary-value-falls-below-it",
        "wdcli/features/fitted.py",
        'np.searchsorted(self._bounds, x, side="right") + 1',
        'np.searchsorted(self._bounds, x, side="left") + 1',
        ("tests/test_pipeline.py::test_a_bucket_holds_its_lower_boundary", "tests/test_encoder.py"),
        "age 25 with boundaries [25, 35] in '<25', not '[25,35)' as the label says",
    ),
    Bug(
        "identity-id-equal-to-num-ids-is-in-range",
        "wdcli/features/fitted.py",
        "ids = np.where((v >= 0) & (v < self.num_ids)",
        "ids = np.where((v >= 0) & (v <= self.num_ids)",
        ("tests/test_pipeline.py::test_each_id_is_missing_out_of_vocabulary_or_a_value_never_two_of_them",),
        "id num_ids gets row num_ids + 2: past the feature's cardinality, into the next feature's weights",
    ),
    Bug(
        "vocabulary-cross-first-combination-is-the-other-id",
        "wdcli/features/fitted.py",
        "return np.where(at >= 0, at + 2, 1).astype(np.int64)",
        "return np.where(at >= 0, at + 1, 1).astype(np.int64)",
        (
            "tests/test_pipeline.py::test_a_vocabulary_cross_keeps_what_was_seen_min_count_times_the_most_frequent_first",
            "tests/test_encoder.py",
        ),
        "the most frequent combination of a vocabulary cross shares id 1 with every unseen one",
    ),
    Bug(
        "encoder-tables-hashed-with-one-seed",
        "wdcli/features/encoder.py",
        "keys.append(values.hash(_SEED + k).to_numpy())",
        "keys.append(values.hash(_SEED).to_numpy())",
        ("tests/test_encoder.py",),
        "every column but the first finds none of its values: served as out of vocabulary",
    ),
    Bug(
        "encoder-missing-markers-not-in-the-tables",
        "wdcli/features/encoder.py",
        'absent = [m for m in dict.fromkeys([*t.source.missing, ""]) if m not in t.values] + [None]',
        'absent = [m for m in dict.fromkeys([""]) if m not in t.values] + [None]',
        ("tests/test_encoder.py",),
        "a declared missing marker ('?') served as an unseen value, not as missing",
    ),
    Bug(
        "encoder-list-keeps-every-value-past-max-values",
        "wdcli/features/encoder.py",
        "            if source.max_values is not None:  # each row's first max_values",
        "            if False:  # each row's first max_values",
        ("tests/test_encoder.py",),
        "served rows keep all their list values where training kept the first max_values",
    ),
    Bug(
        "encoder-list-keeps-missing-values",
        "wdcli/features/encoder.py",
        "            valid = ~col.is_missing\n",
        "            valid = np.ones(len(col.entry), dtype=bool)\n",
        ("tests/test_encoder.py",),
        "a list's empty and missing values served as id 0 in the bag, where transform drops them",
    ),
    Bug(
        "transform-vocabulary-fast-path-without-oov",
        "wdcli/features/transform.py",
        "ids = codes.fill_null(-1).to_numpy().astype(np.int64) + 1 + f.oov",
        "ids = codes.fill_null(-1).to_numpy().astype(np.int64) + 1",
        ("tests/test_pipeline.py", "tests/test_encoder.py"),
        "training's ids one below serving's for every known value",
    ),
    Bug(
        "transform-log1p-drops-the-sign",
        "wdcli/features/transform.py",
        "x[:, self.log] = np.sign(v) * np.log1p(np.abs(v))",
        "x[:, self.log] = np.log1p(np.abs(v))",
        ("tests/test_pipeline.py::test_log1p_keeps_the_sign_of_a_negative_number",),
        "a loss of 1,000 reads as a gain of 1,000",
    ),
    Bug(
        "transform-step-quantile-counts-ties-below",
        "wdcli/features/transform.py",
        'np.searchsorted(knots, x[:, j], "right") / k',
        'np.searchsorted(knots, x[:, j], "left") / k',
        ("tests/test_pipeline.py",),
        "a value equal to a quantile read as the bin below it (a pipeline fitted before smooth)",
    ),
    Bug(
        "transform-concat-offsets-restart",
        "wdcli/features/transform.py",
        "[b.offsets[1:] + s for b, s in zip(bags, starts)]",
        "[b.offsets[1:] for b, s in zip(bags, starts)]",
        ("tests/test_pipeline.py", "tests/test_cache.py", "tests/test_stream.py"),
        "the rows of a second encoding read the first one's list values",
    ),
    Bug(
        "hashing-combine-ignores-the-order",
        "wdcli/features/hashing.py",
        "return mix(a ^ (b + _GOLDEN + (a << np.uint64(6)) + (a >> np.uint64(2))))",
        "return mix(a ^ b)",
        ("tests/test_hashing.py",),
        "a=x AND b=y and a=y AND b=x share a bucket; a=b crosses all hash to mix(0)",
    ),
    Bug(
        "hashing-long-values-hash-their-prefix-only",
        "wdcli/features/hashing.py",
        "    for i in np.flatnonzero(lens > HASHED_BYTES):\n",
        "    for i in np.flatnonzero(lens < 0):\n",
        ("tests/test_hashing.py",),
        "values longer than a KiB that share their first KiB share a bucket",
    ),
    Bug(
        "hashing-nulls-take-a-values-hash",
        "wdcli/features/hashing.py",
        "    out[codes.is_null().to_numpy()] = NULL_HASH\n",
        "",
        ("tests/test_hashing.py",),
        "a cross's missing part hashes as one of the column's values",
    ),
    Bug(
        "hashing-few-long-values-drop-their-last-byte",
        "wdcli/features/hashing.py",
        "buf[active_starts[r] + j : active_starts[r] + sorted_lens[r]]",
        "buf[active_starts[r] + j : active_starts[r] + sorted_lens[r] - 1]",
        ("tests/test_hashing.py",),
        "the longest values of a batch hash without their last byte: 'ab' and 'ac' collide",
    ),
    Bug(
        "reductions-counts-forget-the-merged-total",
        "wdcli/features/reductions.py",
        "frames = ([self.total] if self.total is not None else []) + self.parts",
        "frames = self.parts or ([self.total] if self.total is not None else [])",
        ("tests/test_stream.py::test_streamed_fit_equals_the_fit_of_the_whole_table",),
        "value counts of all but the last 8 batches forgotten: min_count cuts values seen often",
    ),
    Bug(
        "reductions-moments-merge-without-the-means-spread",
        "wdcli/features/reductions.py",
        "self.m2 += other.m2 + delta * delta * self.n * other.n / total",
        "self.m2 += other.m2",
        ("tests/test_stream.py::test_streamed_fit_equals_the_fit_of_the_whole_table",),
        "a standard deviation of batches that differ in mean too small: standardized values too wide",
    ),
    Bug(
        "reductions-std-over-n",
        "wdcli/features/reductions.py",
        "return float(np.sqrt(self.m2 / (self.n - 1))) if self.n > 1 else 0.0",
        "return float(np.sqrt(self.m2 / self.n)) if self.n > 1 else 0.0",
        ("tests/test_pipeline.py",),
    ),
    Bug(
        "reductions-sample-keeps-the-largest-keys",
        "wdcli/features/reductions.py",
        "enter = keys < kept.max()",
        "enter = keys > kept.max()",
        ("tests/test_stream.py::test_the_quantile_sample_is_the_rows_of_the_smallest_position_hashes",),
        "the quantile sample of a streamed fit differs from that of one read whole",
    ),
    Bug(
        "cross-min-count-strict",
        "wdcli/features/cross_fit.py",
        'counts.filter(pl.col("count") >= cross.min_count)',
        'counts.filter(pl.col("count") > cross.min_count)',
        (
            "tests/test_pipeline.py::test_a_vocabulary_cross_keeps_what_was_seen_min_count_times_the_most_frequent_first",
        ),
        "a combination seen exactly min_count times left out of the vocabulary cross",
    ),
    Bug(
        "cross-max-size-keeps-the-rarest",
        "wdcli/features/cross_fit.py",
        'sort(["count", "h"], descending=[True, False])',
        'sort(["count", "h"], descending=[False, False])',
        (
            "tests/test_pipeline.py::test_a_vocabulary_cross_keeps_what_was_seen_min_count_times_the_most_frequent_first",
        ),
        "max_size keeps the rarest combinations, not the most frequent",
    ),
    Bug(
        "cross-max-size-ignored",
        "wdcli/features/cross_fit.py",
        "        if cross.max_size:\n",
        "        if False:\n",
        (
            "tests/test_pipeline.py::test_a_vocabulary_cross_keeps_what_was_seen_min_count_times_the_most_frequent_first",
        ),
    ),
    Bug(
        "cross-bucket-named-by-its-rarest-combination",
        "wdcli/features/cross_fit.py",
        'sort(["len", "b", "name"], descending=[True, False, False])',
        'sort(["len", "b", "name"], descending=[False, False, False])',
        ("tests/test_pipeline.py::test_a_hashed_cross_names_each_bucket_by_its_most_frequent_combination",),
    ),
    Bug(
        "lookup-a-slot-answers-for-any-key",
        "wdcli/features/lookup.py",
        "found = (entry >= 0) & (self.keys[entry] == h)",
        "found = entry >= 0",
        ("tests/test_encoder.py", "tests/test_pipeline.py"),
        "an unseen combination or value takes the id of a known one in its slot",
    ),
    Bug(
        "lookup-probes-one-slot",
        "wdcli/features/lookup.py",
        "todo = np.flatnonzero(~found & (entry >= 0))",
        "todo = np.flatnonzero(~found & (entry < -1))",
        ("tests/test_encoder.py", "tests/test_pipeline.py"),
        "keys moved on by a collision are never found: known values served as unseen",
    ),
    Bug(
        "plan-shared-table-of-the-smallest-member",
        "wdcli/model/plan.py",
        "max(fitted.cardinality(m) for m in members)",
        "min(fitted.cardinality(m) for m in members)",
        ("tests/test_layout.py",),
        "a shared table too small for its larger member: its ids read the next table's rows",
    ),
    Bug(
        "plan-combiner-ignored",
        "wdcli/model/plan.py",
        'deep = [sparse_input(name, getattr(spec.columns[name], "combiner", "sum")) for name in embed]',
        "deep = [sparse_input(name) for name in embed]",
        ("tests/test_layout.py",),
        "a list's combiner: mean pooled as a sum: a row of 50 apps 50 times louder than one of one",
    ),
    Bug(
        "plan-embedding-dims-ignored",
        "wdcli/model/plan.py",
        "dim = spec.deep.embedding_dims.get(name, spec.deep.embedding_dim)",
        "dim = spec.deep.embedding_dim",
        ("tests/test_layout.py",),
    ),
    Bug(
        "plan-numbers-alone-make-no-deep-part",
        "wdcli/model/plan.py",
        'return self.model != "wide" and bool(self.deep or self.dense or self.numeric)',
        'return self.model != "wide" and bool(self.deep)',
        ("tests/test_layout.py", "tests/test_blocks.py"),
    ),
    Bug(
        "plan-batch-norm-params-uncounted",
        "wdcli/model/plan.py",
        "mlp += width * h + h + (2 * h if self.batch_norm else 0)",
        "mlp += width * h + h",
        ("tests/test_layout.py",),
        "validate's plan counts fewer parameters than the model has",
    ),
    Bug(
        "layout-wide-slots-overlap-by-one",
        "wdcli/model/layout.py",
        "            at += f.cardinality\n",
        "            at += f.cardinality - 1\n",
        ("tests/test_layout.py",),
        "each wide feature's missing id shares its row with the feature before it's last id",
    ),
    Bug(
        "layout-tables-of-one-dim-overlap",
        "wdcli/model/layout.py",
        "tables[t.name] = TablePlace(t.name, t.dim, rows.get(t.dim, 0), t.cardinality)",
        "tables[t.name] = TablePlace(t.name, t.dim, 0, t.cardinality)",
        ("tests/test_layout.py",),
        "every table of a dimension reads the first table's rows",
    ),
    Bug(
        "layout-dot-pairs-a-field-with-itself",
        "wdcli/model/layout.py",
        "pairs = [(a, b) for i, a in enumerate(inputs) for b in inputs[i + 1 :]]",
        "pairs = [(a, b) for i, a in enumerate(inputs) for b in inputs[i:]]",
        ("tests/test_blocks.py",),
    ),
    Bug(
        "layout-two-bags-one-group",
        "wdcli/model/layout.py",
        'if same and f.kind != "bag":',
        "if same:",
        ("tests/test_layout.py",),
        "two lists of one dimension pooled as one: the second's rows read as the first's",
    ),
    Bug(
        "onnx-padding-weighs-one",
        "wdcli/export/onnx.py",
        "weights = np.zeros((rows, width), dtype=np.float32)",
        "weights = np.ones((rows, width), dtype=np.float32)",
        ("tests/test_export.py::test_padded_bags_give_the_models_own_logits",),
        "a short row's padding adds id 0's embedding to its bag",
    ),
    Bug(
        "onnx-sqrtn-divides-by-the-plain-weight-sum",
        "wdcli/export/onnx.py",
        "return (w * w if squared else w).sum(dim=1)",
        "return w.sum(dim=1)",
        ("tests/test_export.py::test_padded_bags_give_the_models_own_logits",),
        "a sqrtn list scored by the ONNX graph as sqrt of the sum of weights, not of their squares",
    ),
    Bug(
        "onnx-bags-read-without-their-offset",
        "wdcli/export/onnx.py",
        "F.embedding(ids + offset, table)",
        "F.embedding(ids, table)",
        ("tests/test_export.py::test_padded_bags_give_the_models_own_logits",),
        "a list's ids read the first rows of the wide table and of its embedding table",
    ),
    Bug(
        "label-yes-no-takes-the-rarer",
        "wdcli/draft/label.py",
        '        return common, f"{common!r} reads as yes, {rare!r} as no"',
        '        return rare, f"{common!r} reads as yes, {rare!r} as no"',
        (
            "tests/test_draft_traps.py::test_label_values_are_read_the_way_people_mean_them",
            "tests/test_draft_traps.py::test_a_yes_no_label_means_yes_whichever_is_rarer",
        ),
    ),
    Bug(
        "label-negation-ignored",
        "wdcli/draft/label.py",
        'if m and m["rest"].lower() == pos.lower():',
        "if False:",
        ("tests/test_draft_traps.py::test_label_values_are_read_the_way_people_mean_them",),
        "'churn' / 'no churn' with churn the commoner: 'no churn' (the rarer) taken as the event",
    ),
    Bug(
        "label-no-on-the-rarer-side-ignored",
        "wdcli/draft/label.py",
        "if (a_yes and not b_yes) or (b_no and not a_no):",
        "if a_yes and not b_yes:",
        ("tests/test_draft_traps.py::test_label_values_are_read_the_way_people_mean_them",),
        "'delivered' (common) and 'failed' (rare): 'failed' taken as the event",
    ),
    Bug(
        "label-positive-0-of-a-01-column-read-as-1",
        "wdcli/draft/label.py",
        'if {v.lower() for v in values} <= NUMERIC and value.lower() in ("1", "1.0", "true"):',
        "if {v.lower() for v in values} <= NUMERIC:",
        ("tests/test_draft_traps.py::test_positive_0_of_a_0_1_column_is_kept",),
        "--positive 0 on a 0/1 column drafts a spec that learns 1",
    ),
    Bug(
        "space-log-uniform-sampled-uniformly",
        "wdcli/tune/space.py",
        "out[key] = FloatDistribution(float(lo), float(hi), log=r.log_uniform is not None)",
        "out[key] = FloatDistribution(float(lo), float(hi), log=False)",
        ("tests/test_tune.py::test_a_log_range_is_searched_on_a_log_scale_and_a_rounded_value_stays_in_range",),
        "a learning rate in [1e-4, 1e-2] lands above 1e-3 nine trials in ten",
    ),
    Bug(
        "space-log-int-sampled-uniformly",
        "wdcli/tune/space.py",
        "out[key] = IntDistribution(int(lo), int(hi), log=r.log_int is not None)",
        "out[key] = IntDistribution(int(lo), int(hi), log=False)",
        ("tests/test_tune.py::test_a_log_range_is_searched_on_a_log_scale_and_a_rounded_value_stays_in_range",),
    ),
    Bug(
        "space-rounded-value-past-its-range",
        "wdcli/tune/space.py",
        'return min(max(float(f"{sampled:.4g}"), lo), hi)',
        'return float(f"{sampled:.4g}")',
        ("tests/test_tune.py::test_a_log_range_is_searched_on_a_log_scale_and_a_rounded_value_stays_in_range",),
        "a dropout of {uniform: [0, 0.99999]} rounded to 1.0: a value the spec refuses, the trial fails",
    ),
    Bug(
        "space-float-range-checked-at-its-ends-only",
        "wdcli/tune/space.py",
        "middle = [(lo + hi) / 2] if (r.uniform or r.log_uniform) and lo != hi else []",
        "middle = []",
        ("tests/test_tune.py::test_a_bad_space_is_an_error_before_any_trial",),
        "an integer key given a float range passes the check and fails in every trial",
    ),
    Bug(
        "space-fixed-keys-only-whole",
        "wdcli/tune/space.py",
        'if any(text == f or text.startswith((f + ".", f + "[")) for f in FIXED):',
        "if any(text == f for f in FIXED):",
        ("tests/test_tune.py::test_a_bad_space_is_an_error_before_any_trial",),
        "a space over label.column or data.train accepted: each trial learns another label or other rows",
    ),
    Bug(
        "files-a-group-split-across-batches",
        "wdcli/score/files.py",
        'frame = batch if carry is None else pl.concat([carry, batch], how="diagonal_relaxed")',
        "frame = batch",
        ("tests/test_stream.py::test_eval_and_rank_stream_and_agree_with_memory",),
        "the last group of each batch is dropped from rank's output",
    ),
    Bug(
        "files-an-unsorted-file-streamed",
        "wdcli/score/files.py",
        "    return runs == distinct\n",
        "    return True\n",
        ("tests/test_stream.py::test_eval_and_rank_stream_and_agree_with_memory",),
        "a file whose groups are not together ranked a batch at a time: one group ranked twice, in pieces",
    ),
    Bug(
        "files-predict-to-stdout-repeats-the-header",
        "wdcli/score/files.py",
        "        for i, frame in enumerate(batches):\n            stream.write(io.text(frame, header=i == 0))",
        "        for i, frame in enumerate(batches):\n            stream.write(io.text(frame, header=True))",
        ("tests/test_stream.py::test_eval_and_rank_stream_and_agree_with_memory",),
        "predict's CSV to stdout holds a header line among its rows at each batch",
    ),
    Bug(
        "files-rank-to-stdout-repeats-the-header",
        "wdcli/score/files.py",
        "        for i, frame in enumerate(ranked_frames(frames)):\n            stream.write(io.text(frame, header=i == 0))",
        "        for i, frame in enumerate(ranked_frames(frames)):\n            stream.write(io.text(frame, header=True))",
        ("tests/test_stream.py::test_eval_and_rank_stream_and_agree_with_memory",),
    ),
]


BUGS += [
    # ---- deep.members: a packed ensemble, each member on its own loss, the model's logit their mean
    Bug(
        "members-logit-of-the-first-alone",
        "wdcli/model/widedeep.py",
        "return each[:, 0] if each.shape[1] == 1 else each.mean(dim=1)  # [B]",
        "return each[:, 0]  # [B]",
        ("tests/test_members.py",),
        "a model of several members scores with its first member's logit alone",
    ),
    Bug(
        "members-trained-on-the-loss-of-their-mean",
        "wdcli/train/trainer.py",
        "    return each, label.unsqueeze(1).expand(-1, k), weight, k",
        "    return each.mean(dim=1, keepdim=True).expand(-1, k), label.unsqueeze(1).expand(-1, k), weight, k",
        ("tests/test_members.py",),
        "the members learn from the loss of their mean logit (one wider model), not each from its own",
    ),
    Bug(
        "members-packed-rows-read-across-members",
        "wdcli/model/widedeep.py",
        "h = self.after[0](self.first(x)).view(b, self.k, self.hidden[0])  # [B, K, h0]",
        "h = self.after[0](self.first(x)).view(b, self.hidden[0], self.k).transpose(1, 2)  # [B, K, h0]",
        ("tests/test_members.py",),
        "the first layer's outputs are read member by member in the wrong order: each member mixes the others'",
    ),
    Bug(
        "members-own-weights-take-a-kth-of-their-gradient",
        "wdcli/model/widedeep.py",
        "p.register_hook(lambda g, k=k: g * k)",
        "p.register_hook(lambda g, k=k: g)",
        ("tests/test_members.py::test_each_member_learns_from_its_own_loss_not_from_the_loss_of_the_mean",),
        "each member's weights learn at 1/K of their own loss's gradient (SGD K times slower, decay K times stronger)",
    ),
    Bug(
        "members-warm-start-across-member-counts",
        "wdcli/train/warm.py",
        "    if k != was:\n",
        "    if k != was and min(k, was) == 1:\n",
        ("tests/test_members.py",),
        "a model of 3 members warm-starts from one of 2: blocks of rows that were other members' are copied",
    ),
]


BUGS += [
    Bug(
        "shared-table-vocabularies-of-unlike-oov-buckets-accepted",
        "wdcli/spec/types.py",
        'else (None, None, column.get("oov_buckets", 1))',
        "else (None, None)",
        ("tests/test_bad_specs.py",),
        "columns sharing a table with other oov_buckets read one value from different rows of it",
    ),
    # ---- the loop, its schedules, checkpoints, the cache and the split (issue 24): each decision with its test
    Bug(
        "loop-keeps-the-last-epochs-weights",
        "wdcli/train/loop.py",
        "self.trainer.model.load_state_dict(self.stopper.best_state)",
        "pass",
        ("tests/test_train.py::test_the_weights_kept_are_the_best_epochs_not_the_last",),
    ),
    Bug(
        "loop-plateau-told-every-epoch-improved",
        "wdcli/train/loop.py",
        "self.schedule.after_epoch(best)",
        "self.schedule.after_epoch(True)",
        (
            "tests/test_train.py::test_the_loop_steps_the_schedule_by_each_epochs_batches_and_tells_it_each_epochs_improvement",
        ),
        "the plateau schedule never lowers the step size: every epoch counted as the best",
    ),
    Bug(
        "loop-one-epoch-short",
        "wdcli/train/loop.py",
        "for epoch in range(self.loop.epoch, cfg.epochs + 1):",
        "for epoch in range(self.loop.epoch, cfg.epochs):",
        ("tests/test_train.py::test_early_stopping_on_gauc_keeps_the_epoch_of_the_best_validation_gauc",),
    ),
    Bug(
        "loop-early-stopping-watches-the-training-rows",
        "wdcli/train/loop.py",
        'monitor = "validation" if "validation" in self.sources else "train"',
        'monitor = "train"',
        ("tests/test_train.py::test_early_stopping_on_gauc_keeps_the_epoch_of_the_best_validation_gauc",),
    ),
    Bug(
        "loop-an-epochs-steps-rounded-down",
        "wdcli/train/loop.py",
        "steps = -(-run.data.rows // batch)",
        "steps = run.data.rows // batch",
        (
            "tests/test_train.py::test_the_loop_steps_the_schedule_by_each_epochs_batches_and_tells_it_each_epochs_improvement",
        ),
        "a cosine schedule that reaches its floor before the last epoch's last step",
    ),
    Bug(
        "loop-resume-forgets-the-schedule",
        "wdcli/train/loop.py",
        "self.schedule.restore(saved.schedule)",
        "pass",
        ("tests/test_checkpoint.py::test_every_optimizer_resumes_exactly",),
    ),
    Bug(
        "loop-resume-forgets-the-best-epoch",
        "wdcli/train/loop.py",
        "self.stopper.restore(saved.stopping, self.runtime.device)",
        "pass",
        (
            "tests/test_checkpoint.py::test_a_resumed_run_keeps_the_best_epoch_of_before_its_stop",
            "tests/test_checkpoint.py::test_every_optimizer_resumes_exactly",
        ),
    ),
    Bug(
        "early-stopping-stops-at-the-patience",
        "wdcli/train/trainer.py",
        "return self.since_best > self.patience",
        "return self.since_best >= self.patience",
        ("tests/test_train.py::test_early_stopping_keeps_the_best_epochs_weights_and_stops_after_patience",),
    ),
    Bug(
        "early-stopping-logloss-higher-is-better",
        "wdcli/train/trainer.py",
        'return value < self.best if self.metric == "logloss" else value > self.best',
        'return value > self.best if self.metric == "logloss" else value < self.best',
        ("tests/test_train.py::test_early_stopping_keeps_the_best_epochs_weights_and_stops_after_patience",),
    ),
    Bug(
        "schedule-warmup-starts-at-zero",
        "wdcli/train/schedule.py",
        "warm = min(1.0, (t + 1) / self.warmup_steps)",
        "warm = min(1.0, t / self.warmup_steps)",
        ("tests/test_blocks.py::test_schedule_factors_follow_their_formulas",),
    ),
    Bug(
        "schedule-cosine-counts-the-warm-up",
        "wdcli/train/schedule.py",
        "share = min(1.0, (t - self.warmup_steps) / max(self.total_steps - self.warmup_steps, 1))",
        "share = min(1.0, t / self.total_steps)",
        (
            "tests/test_blocks.py::test_cosine_after_a_warm_up_spans_the_steps_left_and_plateau_counts_only_epochs_in_a_row",
        ),
    ),
    Bug(
        "schedule-plateau-cuts-at-the-patience",
        "wdcli/train/schedule.py",
        "if waited > self.spec.patience:",
        "if waited >= self.spec.patience:",
        ("tests/test_blocks.py::test_schedule_factors_follow_their_formulas",),
    ),
    Bug(
        "schedule-plateau-below-min-factor",
        "wdcli/train/schedule.py",
        "max(self.spec.min_factor, plateau * self.spec.factor)",
        "plateau * self.spec.factor",
        ("tests/test_blocks.py::test_schedule_factors_follow_their_formulas",),
    ),
    Bug(
        "schedule-cosine-ignores-min-factor",
        "wdcli/train/schedule.py",
        "return s.min_factor + (1 - s.min_factor) * (1 + math.cos(math.pi * share)) / 2",
        "return (1 + math.cos(math.pi * share)) / 2",
        ("tests/test_blocks.py::test_schedule_factors_follow_their_formulas",),
    ),
    Bug(
        "schedule-cosine-over-one-epoch",
        "wdcli/train/schedule.py",
        "self.total_steps = max(epochs * steps_per_epoch, 1)",
        "self.total_steps = max(steps_per_epoch, 1)",
        ("tests/test_blocks.py::test_schedule_factors_follow_their_formulas",),
    ),
    Bug(
        "cache-blind-to-a-files-modification-time",
        "wdcli/data/cache.py",
        "return [[p, st.st_size, st.st_mtime_ns] for p in paths for st in [os.stat(p)]]",
        "return [[p, st.st_size] for p in paths for st in [os.stat(p)]]",
        ("tests/test_cache.py::test_the_cache_folder_changes_with_whatever_the_encoding_depends_on",),
        "a file rewritten with as many bytes reads its old rows from the cache",
    ),
    Bug(
        "cache-blind-to-a-files-size",
        "wdcli/data/cache.py",
        "return [[p, st.st_size, st.st_mtime_ns] for p in paths for st in [os.stat(p)]]",
        "return [[p, st.st_mtime_ns] for p in paths for st in [os.stat(p)]]",
        ("tests/test_cache.py::test_the_cache_folder_changes_with_whatever_the_encoding_depends_on",),
    ),
    Bug(
        "cache-blind-to-read-batch-rows",
        "wdcli/data/cache.py",
        '"read_batch_rows": d["train"]["data"]["read_batch_rows"],',
        "",
        (
            "tests/test_cache.py::test_the_cache_folder_changes_with_whatever_the_encoding_depends_on",
            "tests/test_cache.py::test_a_second_run_neither_fits_nor_encodes_and_trains_the_same_weights",
        ),
    ),
    Bug(
        "cache-removes-a-folder-another-run-holds",
        "wdcli/data/cache.py",
        'with _locked(folder / ".in-use", exclusive=True, wait=False) as got:',
        'with _locked(folder / ".in-use", exclusive=False, wait=False) as got:',
        ("tests/test_cache.py::test_a_stale_folder_is_removed_only_once_no_run_holds_it",),
    ),
    Bug(
        "cache-reuse-forgets-the-last-used",
        "wdcli/data/cache.py",
        "fitted, encoded = self.items[key] = self.items.pop(key)",
        "fitted, encoded = self.items[key]",
        ("tests/test_cache.py::test_the_encodings_kept_for_reuse_drop_the_least_recently_used",),
        "the encodings kept for reuse dropped oldest-made first, not least recently used",
    ),
    Bug(
        "shard-cut-short-read-as-whole",
        "wdcli/data/shards.py",
        'if version != FORMAT or len(mm) != start + head["size"]:',
        "if version != FORMAT:",
        ("tests/test_cache.py::test_a_shard_holds_every_array_of_a_chunk",),
    ),
    Bug(
        "shard-of-another-format-read",
        "wdcli/data/shards.py",
        'struct.unpack("<II", bytes(mm[len(MAGIC) : len(MAGIC) + 8]))',
        'FORMAT, struct.unpack("<II", bytes(mm[len(MAGIC) : len(MAGIC) + 8]))[1]',
        ("tests/test_cache.py::test_a_shard_holds_every_array_of_a_chunk",),
        "a shard written by another FORMAT (rows encoded the old way) read as this one's",
    ),
    Bug(
        "shard-missing-groups-read-as-text",
        "wdcli/data/shards.py",
        'group[arrays["group.nulls"]] = None',
        "pass",
        ("tests/test_cache.py::test_a_shard_holds_every_array_of_a_chunk",),
    ),
    Bug(
        "split-validation-overlaps-test",
        "wdcli/data/split.py",
        "np.where(u < self.test + self.validation, 1, 0)",
        "np.where(u < self.validation, 1, 0)",
        ("tests/test_pipeline.py::test_split_is_seeded_stable_and_disjoint",),
    ),
    Bug(
        "split-by-the-files-folder-too",
        "wdcli/data/split.py",
        "hashing.fnv1a64(pl.Series([Path(file).name]))[0]",
        "hashing.fnv1a64(pl.Series([file]))[0]",
        ("tests/test_pipeline.py::test_split_is_seeded_stable_and_disjoint",),
    ),
    Bug(
        "split-of-a-batch-from-its-first-row",
        "wdcli/data/split.py",
        "np.arange(first_row, first_row + len(frame), dtype=np.int64)",
        "np.arange(len(frame), dtype=np.int64)",
        ("tests/test_pipeline.py::test_split_is_seeded_stable_and_disjoint",),
    ),
    Bug(
        "split-holds-out-rows-for-a-part-with-files",
        "wdcli/data/split.py",
        "validation, test = s.validation if data.validation is None else 0.0, s.test if data.test is None else 0.0",
        "validation, test = s.validation, s.test",
        ("tests/test_time_split.py::test_given_files_keep_their_meaning",),
        "training rows held out for a part its own files give: fewer rows trained on, and for nothing",
    ),
    Bug(
        "time-cuts-read-back-file-and-row-swapped",
        "wdcli/data/time_cuts.py",
        "return None if x is None else Cut(float(x[0]), int(x[1]), int(x[2]))",
        "return None if x is None else Cut(float(x[0]), int(x[2]), int(x[1]))",
        ("tests/test_time_split.py::test_two_processes_assign_alike",),
    ),
    Bug(
        "time-cuts-per-groups-times-in-float32",
        "wdcli/data/time_cuts.py",
        "pl.Series([c.time if c else None for c in cuts], dtype=pl.Float64)",
        "pl.Series([c.time if c else None for c in cuts], dtype=pl.Float32)",
        ("tests/test_time_split.py::test_each_users_latest_rows_are_test",),
        "each group's cut times rounded to float32 (a datetime's microseconds to minutes): rows at a cut misplaced",
    ),
    Bug(
        "time-cuts-read-back-validation-and-test-rows-swapped",
        "wdcli/data/time_cuts.py",
        'rows=(int(rows.get("train", 0)), int(rows.get("validation", 0)), int(rows.get("test", 0))),',
        'rows=(int(rows.get("train", 0)), int(rows.get("test", 0)), int(rows.get("validation", 0))),',
        ("tests/test_time_split.py::test_two_processes_assign_alike",),
    ),
    Bug(
        "checkpoint-blind-to-the-data-files",
        "wdcli/train/checkpoint.py",
        "files.append([str(p), st.st_size, st.st_mtime_ns])",
        "files.append([str(p)])",
        ("tests/test_checkpoint.py::test_the_fingerprint_holds_what_a_resumed_run_depends_on",),
        "a checkpoint resumed against training files that changed since it was written",
    ),
    Bug(
        "checkpoint-resumes-with-another-batch-size",
        "wdcli/train/checkpoint.py",
        'MAY_CHANGE = ("epochs", "threads", "output", "checkpoint", "device", "log")',
        'MAY_CHANGE = ("epochs", "threads", "output", "checkpoint", "device", "log", "batch_size")',
        ("tests/test_checkpoint.py::test_the_fingerprint_holds_what_a_resumed_run_depends_on",),
    ),
    Bug(
        "checkpoint-refuses-another-cache-setting",
        "wdcli/train/checkpoint.py",
        'd["train"]["data"].pop("cache", None)',
        "pass",
        ("tests/test_checkpoint.py::test_the_fingerprint_holds_what_a_resumed_run_depends_on",),
    ),
    Bug(
        "checkpoint-best-weights-not-read-back",
        "wdcli/train/checkpoint.py",
        '_part("best.", tensors) if d["has_best"] else None',
        "None",
        (
            "tests/test_checkpoint.py::test_a_resumed_run_keeps_the_best_epoch_of_before_its_stop",
            "tests/test_checkpoint.py::test_every_optimizer_resumes_exactly",
        ),
    ),
    Bug(
        "fitting-max-rows-not-applied",
        "wdcli/train/fitting.py",
        "        train.cap(cfg.max_rows)\n",
        "        pass\n",
        ("tests/test_stream.py::test_train_max_rows_caps_the_rows_the_pipeline_is_fitted_on",),
    ),
    Bug(
        "fitting-a-share-starts-after-its-own-rows",
        "wdcli/train/fitting.py",
        "before = _gather(sum(_kept(train, c) for c in mine))[: runtime.rank]",
        "before = _gather(sum(_kept(train, c) for c in mine))[: runtime.rank + 1]",
        ("tests/test_fit_shares.py::test_shares_fit_the_pipeline_of_one_process_byte_for_byte",),
    ),
    Bug(
        "fitting-a-share-counts-held-out-rows",
        "wdcli/train/fitting.py",
        "    if files.rule is None:\n        return chunk.rows\n",
        "    return chunk.rows\n",
        ("tests/test_fit_shares.py::test_shares_fit_the_pipeline_of_one_process_byte_for_byte",),
    ),
    Bug(
        "sources-memory-budget-never-spent",
        "wdcli/train/sources.py",
        'budget -= rows * per_row if mode == "memory" else 0',
        "budget -= 0",
        ("tests/test_stream.py::test_auto_mode_holds_in_memory_the_parts_that_fit_what_is_left_of_the_budget",),
        "every part held in memory that alone fits the budget, all of them together over it",
    ),
    Bug(
        "sources-max-rows-ignored-for-frames",
        "wdcli/train/sources.py",
        "train_df = train_df.head(cfg.max_rows)",
        "train_df = train_df",
        ("tests/test_stream.py::test_train_max_rows_caps_the_rows_the_pipeline_is_fitted_on",),
    ),
    Bug(
        "sources-reuse-ignores-a-warm-starts-numbers",
        "wdcli/train/sources.py",
        "reuse = reuse if adjust is None else None",
        "reuse = reuse",
        ("tests/test_warm.py::test_a_fit_a_warm_start_adjusts_is_never_taken_from_the_encodings_kept_for_reuse",),
    ),
    Bug(
        "sources-files-in-memory-unseeded",
        "wdcli/train/sources.py",
        "return InMemory(batch, batch_rows(cfg, fitted.rows), cfg.seed, runtime.rank, runtime.world)",
        "return InMemory(batch, batch_rows(cfg, fitted.rows), 0, runtime.rank, runtime.world)",
        ("tests/test_stream.py::test_rows_read_from_files_into_memory_are_shuffled_by_train_seed",),
        "train.seed ignored by the order of in-memory rows read from files",
    ),
]


BUGS += [
    Bug(
        "groups-split-apart-never-warned",
        "wdcli/train/checks.py",
        "if (share := lone_share(sizes, fraction)) > LONE}",
        "if (share := lone_share(sizes, fraction)) > 1}",
        ("tests/test_silent_mistakes.py",),
        "a split by rows that leaves most test groups one row says nothing (a gAUC of fragments)",
    ),
    Bug(
        "groups-lone-share-counts-groups-the-part-never-holds",
        "wdcli/train/checks.py",
        "return float((n * fraction * (1 - fraction) ** (n - 1)).sum() / kept.sum())",
        "return float((n * fraction * (1 - fraction) ** (n - 1)).sum() / len(n))",
        ("tests/test_silent_mistakes.py",),
    ),
]


BUGS += [
    Bug(
        "init-test-file-still-holds-out-test-rows",
        "wdcli/draft/held.py",
        'return {**split, "test": 0.0}, what.split("; by ")[0]',
        'return split, what.split("; by ")[0]',
        (
            "tests/test_draft.py::test_init_with_a_test_file_holds_out_validation_rows_alone_and_learns_from_every_training_row",
        ),
        "with the user's test file, the draft's split still holds out a fifth of the training rows",
    ),
]


BUGS += [
    Bug(
        "glued-kind-said-missing-without-the-space",
        "wdcli/spec/loading.py",
        "        if glued:  # ({kind:numeric}: one word to YAML)",
        "        if False:  # ({kind:numeric}: one word to YAML)",
        ("tests/test_bad_specs.py",),
    ),
]


def copy_checkout(root: Path, to: Path) -> None:
    """The checkout's files (tracked, and untracked ones git does not ignore) copied to `to`."""
    if not (root / ".git").exists():  # (an exported tree: all of it but what git would ignore)
        ignore = shutil.ignore_patterns(".venv", "__pycache__", "runs", ".pytest_cache", ".hypothesis")
        shutil.copytree(root, to, ignore=ignore, dirs_exist_ok=True)
        return
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=root, capture_output=True, check=True
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = root / name
        if source.is_file():
            (to / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, to / name)


def plant(bug: Bug, checkout: Path) -> str | None:
    """Apply the bug to the checkout; or say why it cannot be (the text to change is not there once)."""
    path = checkout / bug.path
    text = path.read_text() if path.exists() else ""
    if text.count(bug.old) != 1:
        return f"{bug.path} has {text.count(bug.old)} copies of the text to change, not 1"
    path.write_text(text.replace(bug.old, bug.new))
    return None


def run(bug: Bug, pristine: Path) -> tuple[bool, float, str]:
    """(the tests failed, seconds, the first test that failed, else pytest's last line)."""
    with tempfile.TemporaryDirectory(prefix=f"planted-{bug.name}-") as tmp:
        checkout = Path(tmp)
        shutil.copytree(pristine, checkout, dirs_exist_ok=True)
        if why := plant(bug, checkout):
            return False, 0.0, f"(not planted: {why})"
        tests = [t for t in bug.tests if (checkout / t.split("::")[0]).exists()]
        if not tests:
            return False, 0.0, "(none of its tests is in this checkout)"
        env = {**os.environ, "PYTHONPATH": str(checkout)}
        t0 = time.perf_counter()
        p = subprocess.run(
            [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests],
            cwd=checkout,
            env=env,
            capture_output=True,
            text=True,
        )
        lines = p.stdout.strip().splitlines() or [""]
        failed = [line.split(" - ")[0].removeprefix("FAILED ") for line in lines if line.startswith("FAILED ")]
        return p.returncode == 1, time.perf_counter() - t0, failed[0] if failed else lines[-1]


def main(args: list[str]) -> int:
    root = ROOT
    if "--root" in args:
        at = args.index("--root")
        root, args = Path(args[at + 1]).resolve(), args[:at] + args[at + 2 :]
    if "--list" in args:
        for b in BUGS:
            print(f"{b.name:32} {b.path:28} {' '.join(b.tests)}")
        return 0
    chosen = [b for b in BUGS if not args or any(b.name.startswith(a) for a in args)]
    missed = []
    with tempfile.TemporaryDirectory(prefix="planted-pristine-") as tmp:
        pristine = Path(tmp)
        copy_checkout(root, pristine)
        for bug in chosen:
            caught, seconds, last = run(bug, pristine)
            print(f"{'caught' if caught else 'MISSED':7} {bug.name:32} {seconds:6.1f}s  {last}", flush=True)
            if not caught:
                missed.append(bug.name)
    print(f"{len(chosen) - len(missed)} of {len(chosen)} planted bugs caught" + (f"; missed: {missed}" * bool(missed)))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
