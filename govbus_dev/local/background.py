"""The thread every local poller and schedule runs on: started, told to stop, joined."""

from __future__ import annotations

import threading


class Background:
    """A daemon thread running ``self._run`` until ``self._stop`` is set.

    ``request_stop`` only tells it, so a stack can tell every part at once and then wait
    for each (stopped one by one, a loaded machine took 30-40 s).
    """

    JOIN_SECONDS = 5

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _run(self) -> None:
        raise NotImplementedError

    def _thread_name(self) -> str:
        raise NotImplementedError

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True, name=self._thread_name())
        self._thread.start()

    def request_stop(self) -> None:
        """Tell the thread to finish what it holds and end, without waiting for it."""
        self._stop.set()

    def stop(self) -> None:
        self.request_stop()
        if self._thread:
            self._thread.join(timeout=self.JOIN_SECONDS)
