"""What `wdcli init` says of the split it drafted, and of the other ways to split the data."""

from __future__ import annotations

from pathlib import Path

from .held import SPLIT
from .render import flow, naming
from .state import Draft
from .times import follow_in_time, offer_notes, spans_times, time_split

# How else `--group` data can be split, offered when init splits by the group (one line per way)
SPLIT_CHOICES = (
    "to hold out rows of {group} values the model knows (each in every part: users, not requests), delete "
    "data.split.key from {spec} and add {group}: categorical to its columns (the model then learns each {group})",
    "to hold out the latest rows, split by time: {time}",
)


def split_notes(d: Draft, spec: str | Path) -> list[str]:
    """What the split does with `--group` or `--time`, and the other ways to split; a split by time offered
    when a column looks like a time."""
    if d.time is not None:
        t, g = d.time, d.group
        what = time_split(d.time, d.group, d.per, d.few, d.follows)[1]
        how = f"chosen: {g}'s rows span several times (users, not requests)" if d.time_chosen else "--time"
        places = naming(d.text, g) if d.per and g else []
        known = f"{g} is a feature (every {g} is in every part) and " if places else ""
        notes = [f"data.split.time is {t} ({how}): {what}; {known}{t} is not a feature"]
        if d.per and g is not None:  # (per is of the group)
            notes.append(_cold_start(f"to hold out {g} values", {**SPLIT, "key": g}, g, places, spec))
        elif g is not None and not d.follows:  # one cut: a user's (a household's) latest rows, another way
            notes.append(
                f"  to hold out each user's latest rows instead, add per: COLUMN to data.split in {spec} (COLUMN: "
                f"the user's, whose rows span several times; the {g} rows of one time stay in one part)"
            )
        return notes
    if d.group is None:
        return offer_notes(d.time_offers, None, False) + d.time_unusable
    g = d.group
    if d.known:
        return [
            f"most rows of data.test are of {g} values the training data holds (users, not requests): the split "
            f"holds out rows, each {g} in every part, and {g} is a feature",
            _cold_start(f"to validate on {g} values", {**SPLIT, "test": 0.0, "key": g}, g, naming(d.text, g), spec),
        ]
    return [
        f"data.split.key is {g} (--group): each {g}'s rows stay in one part, so the validation and test rows "
        f"are of {g} values the model never saw: right for requests (each is new when served), a cold-start "
        f"split for users; and {g} is not a feature",
        *[f"  {choice.format(spec=spec, group=g, time=_time_choice(d))}" for choice in SPLIT_CHOICES],
        *d.time_unusable,
    ]


def _cold_start(what: str, split: dict, group: str, places: list[str], spec: str | Path) -> str:
    """The note line that says how to split by `group` instead (a cold-start split), and where to delete it."""
    where = " and ".join([", ".join(places[:-1]), places[-1]] if len(places) > 1 else places)
    edit = f" and delete {group} from {where}" if places else ""
    return f"  {what} the model never saw (a cold-start split), write split: {flow(split)} in {spec}{edit}"


def _time_choice(d: Draft) -> str:
    """How to split by time with this group, for `SPLIT_CHOICES`."""
    if not d.time_offers or d.sample is None or d.group is None:
        return "init --time COLUMN"
    name, how = d.time_offers[0]
    spans = spans_times(d.sample, name, d.group)
    follows = spans and follow_in_time(d.sample, name, d.group)
    per = not d.few and spans and not follows
    return f"init --time {name} ({how}): {time_split(name, d.group, per, d.few, follows)[1]}"
