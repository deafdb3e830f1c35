"""TIDINGS_SECRET: configured, or generated once per data directory and kept."""

from __future__ import annotations

import stat

import pytest

from relay.secret import FILE_NAME, signing_key


def test_generated_once_and_kept(tmp_path):
    first = signing_key(tmp_path, None)
    assert len(first) >= 64
    assert signing_key(tmp_path, None) == first
    assert stat.S_IMODE((tmp_path / FILE_NAME).stat().st_mode) == 0o600


def test_configured_secret_wins_and_writes_nothing(tmp_path):
    assert signing_key(tmp_path, "from-the-environment-0123456789abcdef") == \
        b"from-the-environment-0123456789abcdef"
    assert not (tmp_path / FILE_NAME).exists()


def test_a_damaged_key_file_is_refused_not_replaced(tmp_path):
    (tmp_path / FILE_NAME).write_text("short")
    with pytest.raises(ValueError, match="TIDINGS_SECRET"):
        signing_key(tmp_path, None)


def test_serve_with_a_damaged_key_file_says_so_in_one_line(tmp_path):
    import os
    import subprocess
    import sys

    (tmp_path / FILE_NAME).write_text("short")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIDINGS_")}
    env["TIDINGS_DATA_DIR"] = str(tmp_path)
    done = subprocess.run([sys.executable, "-m", "relay.cli", "serve"], env=env, timeout=60,
                          capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert done.returncode == 1
    lines = [line for line in done.stderr.splitlines() if "WARNING" not in line]
    assert len(lines) == 1 and lines[0].startswith("tidings: ") and "TIDINGS_SECRET" in lines[0]


def _key_of(args) -> bytes:
    data_dir, barrier = args
    barrier.wait()
    return signing_key(data_dir, None)


def test_processes_starting_together_agree_on_one_key(tmp_path):
    import multiprocessing

    context = multiprocessing.get_context("fork")
    for attempt in range(5):
        data_dir = tmp_path / str(attempt)
        with context.Manager() as manager:
            barrier = manager.Barrier(8)
            with context.Pool(8) as pool:
                keys = pool.map(_key_of, [(data_dir, barrier)] * 8)
        assert len(set(keys)) == 1 and len(keys[0]) == 64
        assert [p.name for p in data_dir.iterdir()] == ["secret.key"]
