"""bench/work.py's accounting: each kind of work gets its own time once, whatever runs inside."""

from __future__ import annotations

import pytest

from bench import work


@pytest.fixture
def clock(monkeypatch):
    """A Clock whose perf_counter returns the times the test gives it, one per call."""
    times: list[float] = []
    monkeypatch.setattr(work.time, "perf_counter", lambda: times.pop(0))
    made = work.Clock()
    made.times = times
    return made


def test_a_step_counts_its_own_time_only(clock):
    # outer starts at 0, inner runs from 1 to 3, outer ends at 10.
    clock.times[:] = [0.0, 1.0, 3.0, 10.0]
    with clock.kind("outer"), clock.kind("inner"):
        pass

    assert clock.seconds == {"outer": 8.0, "inner": 2.0}
    assert clock.times == []


def test_a_commit_during_adoption_counts_to_adoption(clock):
    """Adoption runs while the backup is checked: its commit is its own, not 'commits'."""
    clock.times[:] = [0.0, 5.0]
    with clock.kind("adoption"), clock.kind(work.COMMITS):
        pass

    assert clock.seconds == {"adoption": 5.0}


def test_the_wait_for_the_backup_counts_apart_from_adoption(clock):
    clock.times[:] = [0.0, 1.0, 4.0, 5.0]
    with clock.kind("adoption"), clock.kind("backup: waiting for its check"):
        pass

    assert clock.seconds == {"adoption": 2.0, "backup: waiting for its check": 3.0}


@pytest.mark.parametrize(
    ("sql", "kind"),
    [
        ('CREATE TABLE "new__goals" ("id" varchar(36) NOT NULL PRIMARY KEY)', work.TABLE_REBUILDS),
        ('INSERT INTO "new__goals" ("id") SELECT "id" FROM "goals"', work.TABLE_REBUILDS),
        ('DROP TABLE "goals"', work.TABLE_REBUILDS),
        ('ALTER TABLE "new__goals" RENAME TO "goals"', work.TABLE_REBUILDS),
        ('DROP TABLE "new__goals"', None),  # the in-place path's probe, not a rebuild
        ("DROP TABLE goal_tops", None),  # the backfill's own temporary table
        ('CREATE UNIQUE INDEX "goals_name" ON "goals" ("name")', work.STATEMENTS[0][1]),
        ('PRAGMA foreign_key_check("goals")', "foreign key checks"),
        (  # the same check, by violation_probe's query
            'SELECT 1 FROM "goals" c WHERE (c."parent_id" IS NOT NULL AND NOT EXISTS '
            '(SELECT 1 FROM "goals" p WHERE p."id" = c."parent_id")) LIMIT 1',
            "foreign key checks",
        ),
        (
            'INSERT INTO "goals" (id, "type") SELECT c."parent_id", \'LongTermGoal\' '
            'FROM "goals" c LEFT JOIN "goals" x ON x.id = c."parent_id" '
            'WHERE c."parent_id" IS NOT NULL AND x.id IS NULL GROUP BY c."parent_id" RETURNING id',
            "dangling references, placeholders",
        ),
        ('SELECT "id" FROM "goals"', None),
        ('UPDATE "metric_values" AS t SET root_id = i.root_id', work.VALUES_WRITTEN),
        (
            'INSERT INTO main."metric_values__rewritten" (rowid, "id") SELECT t.rowid, t."id" '
            'FROM main."metric_values" AS t ORDER BY t.rowid',
            work.VALUES_WRITTEN,
        ),
        ('DROP TABLE IF EXISTS main."metric_values__rewritten"', work.VALUES_WRITTEN),
        (  # another table written anew counts to the step writing it
            'INSERT INTO main."activity_instances__rewritten" (rowid, "id") SELECT t.rowid, '
            't."id" FROM main."activity_instances" AS t ORDER BY t.rowid',
            None,
        ),
    ],
)
def test_statements_are_sorted_by_their_sql(sql, kind):
    assert work.statement_kind(sql) == kind
