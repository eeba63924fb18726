"""Log lines a client can cause, at most one per kind per window: a hostile client must not
be able to fill the presenter's terminal. What was held back is counted in the next line."""

import logging
import time


class QuietLog:
    def __init__(self, logger: logging.Logger, *, every: float = 10.0, kinds: int = 1000) -> None:
        self.logger = logger
        self.every = every
        self.kinds = kinds  # kinds remembered at most (keys can come from clients)
        self.last: dict[str, tuple[float, int]] = {}  # kind -> (last logged at, held back since)

    def log(self, level: int, kind: str, message: str, *args: object) -> bool:
        """Log now, or count it for later; True if a line was written."""
        now = time.monotonic()
        logged_at, held = self.last.get(kind, (float("-inf"), 0))
        if now - logged_at < self.every:
            self.last[kind] = (logged_at, held + 1)
            return False
        if len(self.last) >= self.kinds:
            self.last.clear()
        self.last[kind] = (now, 0)
        suffix = f" (and {held} more like it in the last {self.every:g} s)" if held else ""
        self.logger.log(level, message + suffix, *args)
        return True

    def info(self, kind: str, message: str, *args: object) -> bool:
        return self.log(logging.INFO, kind, message, *args)

    def warning(self, kind: str, message: str, *args: object) -> bool:
        return self.log(logging.WARNING, kind, message, *args)
