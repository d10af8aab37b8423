"""Benchmark: the admin's goals changelist and a practice session's change page at two sizes.

    .venv/bin/python -m bench.admin [--sizes 1k 100k] [--backend postgresql]

For each size (goals in the migrated file) the pages are fetched through Django's test client as a
superuser: the number of queries per page and the median response time. A page that scales must
send the same number of queries at both sizes and take at most twice as long at the larger one.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

from bench.common import ADMIN_SIZES, PYTHON, ROOT, legacy_file, log, save
from bench.databases import legacy_and_migrated

PAGES = ("goals changelist", "practice session change page")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes", nargs=2, choices=list(ADMIN_SIZES), default=["1k", "100k"], help="Two sizes."
    )
    parser.add_argument(
        "--backend", choices=["sqlite", "postgresql"], default="sqlite", help="Database."
    )
    parser.add_argument("--requests", type=int, default=20, help="Requests per page (median).")
    options = parser.parse_args(argv)
    small, large = options.sizes
    results = {"sizes": {}}
    for size in (small, large):
        legacy = legacy_file(size, ADMIN_SIZES, prefix="admin_")
        with legacy_and_migrated(options.backend, legacy) as pair:
            # A child per size: Django is configured once per process, for one database.
            measure_argv = ["--measure", pair.migrated_url, str(options.requests)]
            output = subprocess.run(  # noqa: S603 - this module with our own arguments
                [PYTHON, "-m", "bench.admin", *measure_argv],
                cwd=ROOT,
                check=True,
                capture_output=True,
                text=True,
            )
            sys.stderr.write(output.stderr)
            results["sizes"][size] = json.loads(output.stdout)
    for page in PAGES:
        at_small = results["sizes"][small]["pages"][page]
        at_large = results["sizes"][large]["pages"][page]
        results.setdefault("pages", {})[page] = {
            "same_queries": at_small["queries"] == at_large["queries"],
            "time_ratio": at_large["seconds"] / at_small["seconds"],
        }
    save("admin", options.backend, f"{small}-{large}", results)
    return results


def measure(url: str, requests: int) -> dict:
    """Fetch each page `requests` times (after a warm-up) against the migrated database at url."""
    import statistics
    import time

    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "goals_project.settings_dev")
    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import setup_test_environment
    from django.urls import reverse

    from goals.models import Goal, PracticeSession
    from sessions.models import ActivityInstance

    setup_test_environment()
    user = _superuser()
    client = Client()
    client.force_login(user)
    session = (
        PracticeSession.objects.filter(
            pk__in=ActivityInstance.objects.values("practice_session_id")
        )
        .order_by("created_at", "id")
        .first()
    )
    urls = {
        "goals changelist": reverse("admin:goals_goal_changelist"),
        "practice session change page": reverse(
            "admin:goals_practicesession_change", args=[session.pk]
        ),
    }
    pages = {}
    for page, url_path in urls.items():
        client.get(url_path)  # warm-up: templates, content types, permissions caches
        sent: list[str] = []
        # Counted as they are sent: the query log is reset by each request, so it cannot count.
        with connection.execute_wrapper(_Counter(sent)):
            response = client.get(url_path)
        if response.status_code != 200:
            raise RuntimeError(f"{url_path} answered {response.status_code}")
        times = []
        for _ in range(requests):
            start = time.perf_counter()
            client.get(url_path)
            times.append(time.perf_counter() - start)
        pages[page] = {
            "url": url_path,
            "queries": len(sent),
            "seconds": statistics.median(times),
            "requests": requests,
        }
        log(f"{page}: {pages[page]['queries']} queries, {pages[page]['seconds'] * 1000:.1f} ms")
    return {"goals": Goal.all_objects.count(), "pages": pages}


class _Counter:
    """An execute wrapper that notes every statement it lets through."""

    def __init__(self, sent: list[str]) -> None:
        self.sent = sent

    def __call__(self, execute, sql, params, many, context):
        self.sent.append(sql)
        return execute(sql, params, many, context)


def _superuser():
    """The benchmark's own superuser in the migrated copy (made once, reused)."""
    from django.contrib.auth import get_user_model

    users = get_user_model()
    user = users.objects.filter(username="bench-admin").first()
    return user or users.objects.create_superuser("bench-admin", "bench@example.invalid", None)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--measure"]:
        print(json.dumps(measure(sys.argv[2], int(sys.argv[3]))))  # noqa: T201 - to the parent
    else:
        main()
