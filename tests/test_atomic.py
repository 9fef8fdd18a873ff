"""Atomic writes, one helper for a file and one for a folder: a failed write leaves the old one as it was and
no temporary; a finished one replaces it whole; temporaries of dead processes are cleaned, a live one's kept."""

from __future__ import annotations

import os
import subprocess

import pytest

from wdcli.data.atomic import atomic_file, atomic_folder, remove_stale


def test_a_file_is_replaced_whole_or_not_at_all(tmp_path):
    path = tmp_path / "sub" / "a.txt"
    with atomic_file(path) as tmp:
        assert tmp.parent == path.parent and tmp.name.startswith(".a.txt.tmp")
        tmp.write_text("one")
    assert path.read_text() == "one"
    with pytest.raises(RuntimeError), atomic_file(path) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    assert path.read_text() == "one" and os.listdir(path.parent) == ["a.txt"]


def test_a_folder_is_swapped_in_whole_or_not_at_all(tmp_path):
    path = tmp_path / "run"
    with atomic_folder(path) as tmp:
        (tmp / "x").write_text("1")
    with pytest.raises(KeyboardInterrupt), atomic_folder(path) as tmp:
        (tmp / "x").write_text("2")
        raise KeyboardInterrupt
    assert (path / "x").read_text() == "1" and os.listdir(tmp_path) == ["run"]
    with atomic_folder(path) as tmp:
        (tmp / "y").write_text("3")
    assert os.listdir(path) == ["y"] and os.listdir(tmp_path) == ["run"]


def test_temporaries_of_dead_processes_are_removed(tmp_path):
    p = subprocess.Popen(["true"])  # a process id that has exited
    p.wait()
    for name in (f".tmp-run-{p.pid}", f".old-run-{p.pid}"):
        (tmp_path / name).mkdir()
    (tmp_path / f".best.yaml.tmp{p.pid}").write_text("x")
    (tmp_path / f".a.csv.tmp{os.getpid()}").write_text("x")  # this process: alive, kept
    remove_stale(tmp_path)
    assert os.listdir(tmp_path) == [f".a.csv.tmp{os.getpid()}"]
