"""A spec drafted from data (`wdcli init`): column kinds, missing markers, buckets and ranked crosses."""

from .build import draft_spec, write_draft
from .notes import split_notes
from .state import Draft

__all__ = ["Draft", "draft_spec", "split_notes", "write_draft"]
