"""Reading a paginated listing one page ahead of its reader, in a thread of its own.

The listing's critical path is request → answer → next request. When the thread that reads the answer is also the
one that decides on the next request only once the caller asks for it (a prefetching ``Future``), each page waits
for the caller's thread to be scheduled, and the caller is busy with the previous page's rows while holding the
GIL (CPython hands it over only every ``sys.getswitchinterval()``, 5 ms). Here one thread owns the whole chain:
it parses each answer, works out the next link and sends the next request at once, so only its own work lies
between two pages; the caller's work runs beside it.

It reads no further ahead than a prefetch would: page ``i + 1`` is requested only once the caller has asked for
page ``i`` (a credit per ask), so a caller that stops early costs the same requests as before.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class _End:
    """The producer ended: normally (``error`` None) or with an exception the reader re-raises."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error


class _Producer(Generic[T]):
    def __init__(self, produce: Callable[[], Iterator[T]], name: str) -> None:
        self._produce = produce
        self.items: queue.SimpleQueue[T | _End] = queue.SimpleQueue()
        self.asked = threading.Semaphore(0)  # one per item the reader asked for
        self.stopped = False
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)

    def _run(self) -> None:
        try:
            items = self._produce()
            try:
                # item i + 1 is computed (by the loop's next step) only once the reader asked for item i
                for item in items:
                    self.items.put(item)
                    self.asked.acquire()
                    if self.stopped:
                        return
            finally:
                close = getattr(items, "close", None)
                if close is not None:
                    close()
            self.items.put(_End())
        except BaseException as exc:  # handed to the reader's thread, where the caller's handlers are
            self.items.put(_End(exc))


def read_ahead(produce: Callable[[], Iterator[T]], *, name: str = "page") -> Iterator[T]:
    """The items of ``produce()``, computed in a thread of their own one item ahead of the reader.

    An exception inside ``produce`` is raised here, in the reader's thread. Closing this iterator early stops the
    producer after what it is doing (at most the one item it reads ahead) and waits for it.
    """
    producer: _Producer[T] = _Producer(produce, name)
    producer.thread.start()
    try:
        while True:
            producer.asked.release()  # asking for item i lets the producer go on to item i + 1
            item = producer.items.get()
            if isinstance(item, _End):
                if item.error is not None:
                    raise item.error
                return
            yield item
    finally:
        producer.stopped = True
        producer.asked.release()  # wakes a producer waiting for the reader
        producer.thread.join()
