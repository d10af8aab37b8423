"""Exit 0 when every row and value of a legacy file is in the database at DATABASE_URL.

    python -m tests.reliability.check_legacy LEGACY_FILE

The database is taken back to the legacy baseline (the improvement migrations are reversible)
and every legacy table is compared with the file, value by value. It changes the database.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "goals_project.settings")
    import django

    django.setup()
    from tests.legacy_loading import BASELINE, legacy_rows_of, migrate_to, normal, snapshot

    rows = legacy_rows_of(Path(sys.argv[1]))
    expected = {
        table: {tuple(normal(value) for value in row) for row in values}
        for table, (_, values) in rows.items()
    }
    migrate_to(BASELINE)
    found = snapshot(rows)
    different = {
        table: (len(expected[table] - found[table]), len(found[table] - expected[table]))
        for table in expected
        if expected[table] != found[table]
    }
    for table, (missing, unexpected) in different.items():
        print(f"{table}: {missing} legacy row(s) missing or changed, {unexpected} unexpected")  # noqa: T201
    return 1 if different else 0


if __name__ == "__main__":
    sys.exit(main())
