"""tools/time_chapters.py: a chapter's time is recorded as run; one stopped by the whole-run limit is
recorded, and shown in the chapter's mode table, as the lower bound it is."""

import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parents[1]
TOOL = ROOT / "tools" / "time_chapters.py"


def slow_book(tmp_path: Path) -> Path:
    """A book of one chapter whose second code cell (an empty one does not count) sleeps two minutes."""
    book = tmp_path / "book"
    book.mkdir()
    cells = [new_markdown_cell("# Slow"), new_code_cell("x = 1"), new_code_cell(""), new_code_cell("import time\ntime.sleep(120)"), new_code_cell("y = 2")]
    nbformat.write(new_notebook(cells=cells), book / "01_slow.ipynb")
    return book


def time_chapters(book: Path, out: Path, *options: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(TOOL), "--book", str(book), "--out", str(out), *options],
                          capture_output=True, text=True, cwd=book.parent)


def test_a_chapter_still_running_at_the_limit_is_recorded_and_shown_as_a_lower_bound(tmp_path, monkeypatch):
    out = tmp_path / "times.json"
    run = time_chapters(slow_book(tmp_path), out, "--stop-after", "10")
    assert run.returncode == 0, run.stdout + run.stderr
    [entry] = json.loads(out.read_text())["times"]
    assert entry["stopped"] and (entry["stopped_in_cell"], entry["code_cells"]) == (2, 3)
    assert 10 <= entry["seconds"] < 120, entry["seconds"]   # stopped before the two-minute cell ended

    from lipreg_lib import book

    committed = book.load_results
    monkeypatch.setattr(book, "load_results", lambda name: {"times": [entry]} if name == "chapter_times" else committed(name))
    note = book.mode_note("01_slow").data
    assert re.search(r"\| more than \d+ s \(stopped in code cell 2 of 3\) on cpu", note), note


def test_a_cell_over_its_own_limit_fails_the_chapter_and_records_nothing(tmp_path):
    out = tmp_path / "times.json"
    run = time_chapters(slow_book(tmp_path), out, "--timeout", "3", "--stop-after", "600")
    assert run.returncode == 1 and "01_slow: FAILED" in run.stdout
    assert not out.exists()


def test_a_limit_that_is_not_a_positive_number_of_seconds_is_refused_by_name(tmp_path):
    run = time_chapters(slow_book(tmp_path), tmp_path / "times.json", "--stop-after", "0")
    assert run.returncode == 2 and "--stop-after must be a number > 0, got '0'" in run.stderr


def test_merge_adds_another_machines_entries_and_replaces_only_the_same_chapter_mode_and_device(tmp_path):
    def entry(chapter, device, seconds):
        return {"chapter": chapter, "mode": "mnist", "device": device, "seconds": seconds}
    out, gpu = tmp_path / "times.json", tmp_path / "gpu.json"
    quick = {**entry("01_a", "H100", 20.0), "mode": "quick"}
    out.write_text(json.dumps({"times": [entry("01_a", "cpu", 60.0), entry("01_a", "H100", 30.0), entry("02_b", "H100", 9.0), quick]}))
    gpu.write_text(json.dumps({"times": [entry("01_a", "H100", 27.0), entry("03_c", "H100", 5.0), entry("01_a", "H100", 25.0)]}))
    run = time_chapters(tmp_path / "no-book", out, "--merge", str(gpu))
    assert run.returncode == 0, run.stdout + run.stderr
    times = sorted((t["chapter"], t["mode"], t["device"], t["seconds"]) for t in json.loads(out.read_text())["times"])
    assert times == [("01_a", "mnist", "H100", 25.0), ("01_a", "mnist", "cpu", 60.0), ("01_a", "quick", "H100", 20.0),
                     ("02_b", "mnist", "H100", 9.0), ("03_c", "mnist", "H100", 5.0)]   # the later of two same keys


def test_merge_refuses_a_file_that_is_not_a_chapter_times_record_by_name_and_writes_nothing(tmp_path):
    out, bad = tmp_path / "times.json", tmp_path / "bad.json"
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"times": [{"chapter": "01_a", "mode": "quick", "device": "cpu", "seconds": 3.0}]}))
    for times, missing in (([{"chapter": "01_a", "seconds": 3.0}], "mode"),
                           ([{"chapter": "01_a", "mode": "quick", "device": "cpu", "seconds": 3.0, "stopped": True, "code_cells": 4}], "stopped_in_cell")):
        bad.write_text(json.dumps({"times": times}))
        run = time_chapters(tmp_path / "no-book", out, "--merge", str(good), str(bad))   # a good file first: still nothing written
        assert run.returncode == 2 and f"--merge '{bad}' is not a chapter-times record (an entry without '{missing}')" in run.stderr, run.stderr
        assert not out.exists()
    run = time_chapters(tmp_path / "no-book", out, "--merge", str(good), "--full", "mnist")
    assert run.returncode == 2 and "--merge runs no chapter" in run.stderr and not out.exists()
