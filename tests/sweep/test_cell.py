"""A sweep cell's data key: it changes with any file a backtest reads and nothing else."""

from __future__ import annotations


def test_the_data_key_changes_with_any_file_a_backtest_reads_and_nothing_else(tmp_path):
    from bot.sweep.cell import data_digest

    for sub in ("3m", "4h", "funding_8h", "intel"):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / "BTCUSDT.csv").write_text("a")
    first = data_digest(tmp_path)
    (tmp_path / "README.md").write_text("notes")  # not read by a backtest
    (tmp_path / "1m").mkdir()
    (tmp_path / "1m" / "BTCUSDT.csv").write_text("a")
    assert data_digest(tmp_path) == first
    for sub in ("3m", "4h", "funding_8h", "intel"):
        (tmp_path / sub / "BTCUSDT.csv").write_text("b")
        changed = data_digest(tmp_path)
        assert changed != first, sub
        first = changed
