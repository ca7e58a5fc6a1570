"""Which recordings a node has just recorded as played, so that a player's many range
requests for one listening become one `recording_played` entry: a user fetching an attempt's
recording again within `window_seconds` of the last recorded play is not recorded again. Every
response that serves a recording's bytes is covered: the first from each user for each attempt
in the window is recorded, whatever its Range header. Kept per node, in memory (another node
records its own first play: more entries, never none)."""

from __future__ import annotations

WINDOW_SECONDS = 600.0
MAX_ENTRIES = 10_000


class PlayLog:
    def __init__(self, *, window_seconds: float = WINDOW_SECONDS) -> None:
        self.window_seconds = window_seconds
        self._last: dict[tuple[str, int], float] = {}

    def should_record(self, user: str, attempt_id: int, now: float) -> bool:
        """True (and remembered) unless this user's play of this attempt was recorded within the window."""
        key = (user, attempt_id)
        last = self._last.get(key)
        if last is not None and 0 <= now - last < self.window_seconds:
            return False
        self._last.pop(key, None)
        self._last[key] = now
        while len(self._last) > MAX_ENTRIES:
            del self._last[next(iter(self._last))]
        return True

    def forget(self, user: str, attempt_id: int) -> None:
        """The recording was not served after all (the store refused the audit entry)."""
        self._last.pop((user, attempt_id), None)
