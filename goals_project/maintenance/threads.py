"""One task on a thread of its own, while the caller goes on."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor


def on_a_thread_of_its_own(name: str, function: Callable, *args, **kwargs) -> Future:
    """`function(*args, **kwargs)` on a new thread named after `name`; the thread ends with it.
    The caller takes its result, or the exception it raised, from the future."""
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
    try:
        return pool.submit(function, *args, **kwargs)
    finally:
        pool.shutdown(wait=False)
