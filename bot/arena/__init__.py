"""The strategy arena: candidate strategies trade the same ticks on their own paper books
(``arena.py``), a leaderboard scores them and rotation hands the account to the best
(``leaderboard.py``), and ``bot backtest --arena`` runs them all over history (``backtest.py``)."""
