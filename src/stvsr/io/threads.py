"""Bounded background threads, so decoding and encoding overlap with compute without holding a video in memory:
`Prefetcher` produces ahead of its consumer (decoding), `Consumer` consumes behind its producer (encoding).

Written by hand because the standard library has no bounded, exception-propagating prefetching iterator or
consuming sink; `concurrent.futures` would need one future per frame and gives no back-pressure.
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


class Consumer(Generic[T]):
    """Runs `handle(item)` in a daemon thread for each item `put`, at most `maxsize` items behind the producer;
    `close()` waits for the last one, then runs `finish()` in the thread. An exception in the thread is re-raised
    by the next `put` or `close`; `cancel()` stops it without finishing."""

    def __init__(self, handle: Callable[[T], None], finish: Callable[[], None] | None = None, maxsize: int = 4,
                 name: str = "stvsr-consume"):
        self._queue: queue.Queue = queue.Queue(maxsize=maxsize)
        self._handle, self._finish = handle, finish
        self._cancelled = threading.Event()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while True:
                item = self._queue.get()
                if item is _DONE or self._cancelled.is_set():
                    break
                self._handle(item)
            if not self._cancelled.is_set() and self._finish is not None:
                self._finish()
        except BaseException as error:  # handed to the producer, which re-raises it
            self.error = error

    def _raise(self) -> None:
        if self.error is not None:
            raise self.error

    def put(self, item: T) -> None:
        self._raise()
        while True:
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:  # a stuck or failed thread must not hang the producer
                self._raise()

    def close(self) -> None:
        self.put(_DONE)
        self._thread.join()
        self._raise()

    def cancel(self) -> None:
        self._cancelled.set()
        while self._thread.is_alive():
            try:  # make room, then wake a thread waiting on an empty queue
                self._queue.get_nowait()
            except queue.Empty:
                pass
            try:
                self._queue.put_nowait(_DONE)
            except queue.Full:
                pass
            self._thread.join(timeout=0.1)
