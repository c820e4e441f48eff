"""Racing real database connections: the way tests prove what constraints and locks guarantee."""

from __future__ import annotations

import threading
from collections.abc import Callable

from django.db import connection


def race(target: Callable[[int], object], count: int) -> tuple[list, list[BaseException]]:
    """Run target(i) in `count` threads released together, each on its own database
    connection (so the test needs a transactional database); (results, errors)."""
    barrier = threading.Barrier(count, timeout=10)
    results: list = []
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait()
            results.append(target(i))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()  # each thread opened its own connection

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results, errors
