"""A spec drafted from data (`wdcli init`): column kinds, missing markers, buckets and ranked crosses."""

from .build import Draft, draft_spec, write_draft

__all__ = ["Draft", "draft_spec", "write_draft"]
