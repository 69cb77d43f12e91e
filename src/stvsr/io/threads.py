"""A bounded background producer, so decoding overlaps with compute without holding a whole video in memory.

Written by hand because the standard library has no bounded, exception-propagating prefetching iterator;
`concurrent.futures` would need one future per frame and gives no back-pressure.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")
_DONE = object()


class Prefetcher(Generic[T]):
    """Runs `make_iter()` in a daemon thread, keeping at most `maxsize` items ahead of the consumer.

    Exceptions raised by the producer are re-raised in the consumer; `close()` stops and joins the thread.
    """

    def __init__(self, make_iter: Callable[[], Iterator[T]], maxsize: int = 4, name: str = "stvsr-prefetch"):
        self._queue: queue.Queue = queue.Queue(maxsize=maxsize)
        self._stop = threading.Event()
        self._make_iter = make_iter
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _put(self, item) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        try:
            for item in self._make_iter():
                if not self._put(item):
                    return
            self._put(_DONE)
        except BaseException as error:  # handed to the consumer, which re-raises it
            self._put(error)

    def __iter__(self) -> Iterator[T]:
        while True:
            item = self._queue.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self) -> None:
        self._stop.set()
        while True:  # unblock a producer waiting on a full queue
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        self._thread.join(timeout=10)
