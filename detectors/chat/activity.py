"""Chat activity series: how many different people are chatting.

Contract: ``chat_activity(log, start, end, hop, window)`` returns a Series named ``chat`` whose
bin ``i`` is the number of distinct users who posted at least once in the ``window`` seconds
ending with that bin. Counting people, not messages, keeps one user pasting the same line (or a
log tool that saturates at one message a second) from looking like a crowd.
"""
from __future__ import annotations

import numpy as np

from detectors.chat.log import ChatLog
from detectors.series import Series, bins_for


def distinct_users_per_window(bins: np.ndarray, users: np.ndarray, n_bins: int, window_bins: int) -> np.ndarray:
    """Bin ``b`` counts users with a message in bins ``b-window_bins+1 .. b``.

    Each (user, bin) where the user posts makes that user "present" for the next window_bins
    bins; overlapping presences of the same user are merged so nobody counts twice.
    """
    if len(bins) == 0:
        return np.zeros(n_bins)
    order = np.lexsort((bins, users))
    b, u = bins[order], users[order]
    keep = np.ones(len(b), bool)
    keep[1:] = (b[1:] != b[:-1]) | (u[1:] != u[:-1])
    b, u = b[keep], u[keep]
    ends = b + window_bins
    same_user_next = np.zeros(len(b), bool)
    same_user_next[:-1] = u[1:] == u[:-1]
    ends[:-1] = np.where(same_user_next[:-1], np.minimum(ends[:-1], b[1:]), ends[:-1])
    delta = np.zeros(n_bins + window_bins + 1)
    np.add.at(delta, b, 1)
    np.add.at(delta, ends, -1)
    return np.cumsum(delta)[:n_bins]


def chat_activity(log: ChatLog, start: float, end: float, hop: float, window: float = 5.0) -> Series:
    n_bins = bins_for(end - start, hop)
    inside = (log.t >= start) & (log.t < start + n_bins * hop)
    bins = np.floor((log.t[inside] - start) / hop).astype(np.int64)
    window_bins = max(1, int(round(window / hop)))
    return Series("chat", start, hop, distinct_users_per_window(bins, log.user[inside], n_bins, window_bins))
