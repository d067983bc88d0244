"""scripts/sim_long_run.py with the odd inputs an operator types: one clear error, never a traceback."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent


def load_script() -> Any:
    """scripts/sim_long_run.py as a module (run by path, it is no package's: mypy checks it as `sim_long_run`)."""
    spec = importlib.util.spec_from_file_location("sim_long_run_under_test", ROOT / "scripts" / "sim_long_run.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


sim_long_run = load_script()


def run(*args: str) -> subprocess.CompletedProcess[str]:
    script = str(ROOT / "scripts" / "sim_long_run.py")
    return subprocess.run([sys.executable, script, *args], capture_output=True, text=True, timeout=60, check=False)


def test_a_file_as_the_folder_is_one_clear_error(tmp_path: Path) -> None:
    afile = tmp_path / "afile"
    afile.write_text("")
    with pytest.raises(sim_long_run.LongRunError, match=f"cannot create {afile}/abc1234: .*not a folder"):
        sim_long_run.chunk_directory(afile, "abc1234", create=True)


def test_a_folder_that_cannot_be_made_is_one_clear_error() -> None:
    with pytest.raises(sim_long_run.LongRunError, match="cannot create /proc/abc1234: "):
        sim_long_run.chunk_directory(Path("/proc"), "abc1234", create=True)


def test_a_symlink_to_a_folder_is_used(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    assert sim_long_run.chunk_directory(tmp_path / "link", "abc1234", create=True).is_dir()
    assert (tmp_path / "real" / "abc1234").is_dir()


def test_a_summary_creates_nothing_and_says_there_are_no_chunks(tmp_path: Path) -> None:
    assert sim_long_run.chunk_directory(tmp_path / "none", "abc1234", create=False) is None
    assert not (tmp_path / "none").exists()


def test_the_command_line_says_one_line_for_a_file_as_dir(tmp_path: Path) -> None:
    afile = tmp_path / "afile"
    afile.write_text("")
    done = run("--dir", str(afile), "--seeds", "1", "--chunk", "1", "--jobs", "1")
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [
        f"sim_long_run.py: error: cannot create {afile}/{sim_long_run.commit()}: {afile} is a file, not a folder"
    ]


def test_the_summary_of_a_commit_with_no_chunks(tmp_path: Path) -> None:
    done = run("--summary", "--commit", "abc1234", "--dir", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"{tmp_path}/abc1234: no chunks yet"
    assert not (tmp_path / "abc1234").exists()


def test_commit_without_summary_is_refused(tmp_path: Path) -> None:
    done = run("--commit", "abc1234", "--seeds", "1", "--chunk", "1", "--dir", str(tmp_path))
    assert done.returncode == 2
    assert "--commit only with --summary" in done.stderr
    assert not any(tmp_path.iterdir())


def test_a_checkout_with_uncommitted_changes_is_named_and_clean_is_not(tmp_path: Path) -> None:
    """Chunks are filed under HEAD: a run of changed tracked files would file other code under its name."""
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(tmp_path)]
    subprocess.run([*git, "init", "-q"], check=True)
    (tmp_path / "a.py").write_text("x = 1\n")
    subprocess.run([*git, "add", "a.py"], check=True)
    subprocess.run([*git, "commit", "-qm", "a"], check=True)
    (tmp_path / "untracked.txt").write_text("")
    assert [] == sim_long_run.uncommitted(tmp_path)

    (tmp_path / "a.py").write_text("x = 2\n")

    assert ["a.py"] == sim_long_run.uncommitted(tmp_path)


def test_replay_runs_each_failing_seed_again_here_and_says_which_still_fail(tmp_path: Path) -> None:
    """A chunk whose seeds 3 and 5 failed (as an older commit's judge may have said): replayed in this checkout,
    where both keep every invariant, each is `ok`; a chunk still being written (.part) is not read."""
    chunks = tmp_path / "abc1234"
    chunks.mkdir()
    report = "".join(
        f"seed {seed}: FAILED (10 runtime steps)\n  invariant violated: never two unsealers: text\n"
        f"  replay: python -m sim --seed {seed}\n"
        for seed in (5, 3)
    )
    (chunks / "chunk-000000.log").write_text(report + "10 seeds, 2 failed, 5.0 s (0.50 s of CPU a seed)\n")
    (chunks / "chunk-000010.part").write_text(report.replace("seed 5", "seed 15").replace("seed 3", "seed 13"))

    done = run("--summary", "--commit", "abc1234", "--dir", str(tmp_path), "--replay")

    assert done.returncode == 0, done.stderr
    here = sim_long_run.commit()
    assert done.stdout.strip().splitlines()[-3:] == [
        f"replayed on {here}: 2 seeds, 0 still failing",
        f"  seed 3 (broke never two unsealers in abc1234): ok on {here}",
        f"  seed 5 (broke never two unsealers in abc1234): ok on {here}",
    ]


def test_replay_without_summary_is_refused(tmp_path: Path) -> None:
    done = run("--replay", "--dir", str(tmp_path))
    assert done.returncode == 2
    assert "--replay only with --summary" in done.stderr
