"""Repair dangling references and derive root_id for every row, in set-based SQL.

Rules (goals.roots; README, "The improvements"):
- Roots are the goals without a parent of the four root types. A goal's root comes from its
  parent chain, whatever the parent's type; a practice session without a parent takes the root
  of the goal(s) it is linked to (the smallest root id when they disagree; reported), and what
  hangs below it follows it.
- Existing root_id values are not trusted: they are recomputed, and every change is recorded.
- A row whose root cannot be derived is never deleted and never made its own root: it goes
  under a "Recovered records" root created here.
- A reference to a missing row gets a clearly named placeholder with the missing id, so the rows
  pointing to it keep their data and the foreign keys of 0005 hold.
- Audit columns get values derived from the row (never NULL timestamps).
- The result follows from the data alone (ids of created rows included, see CREATED_IDS), so
  migrating copies of one file gives the same rows.
Every changed legacy value and every created row is written to `legacy_repairs`; migrating
backwards restores the old values from it and removes the created rows.
"""

from __future__ import annotations

import uuid

from django.core.management.base import CommandError
from django.db import migrations
from django.utils import timezone

from goals.roots import CHAINS, PARENTLESS_TYPES, ROOT_TABLES, GoalType
from goals_project.bases.exit_codes import Exit
from goals_project.bases.progress import current_reporter
from goals_project.maintenance.backward_safety import (
    CREATED,
    FINGERPRINT,
    WOULD_DISCARD,
    backfill_state_record,
    backward_losses,
    fields_of,
    refusal_message,
    typed_text_sql,
)
from goals_project.maintenance.migration_executor import applied_while_held
from goals_project.maintenance.table_rewrite import postgres_rewrite, sqlite_rewrite
from goals_project.maintenance.verification import blob_reference_fix, shown_id

MIGRATION = "goals.0004_backfill_root_ids"
# The audit stamps a metric value takes from its instance.
VALUE_STAMPS = ("created_at", "updated_at")
# What fills a goal's created_at where it has none; then its updated_at and order (and a metric
# definition's), SQL over alias t.
GOAL_CREATED = "COALESCE(t.session_start, t.updated_at, %s)"
GOAL_FILLS = {"updated_at": "t.created_at", "sort_order": "0"}
# The migration adding the root and audit columns of the activity instances and the metric
# values, where the legacy file has none.
SESSION_COLUMNS_ADDED = "practice_sessions.0002_add_root_and_audit_columns"
RECOVERY_NAME = "Recovered records"
# legacy_repairs.reason of the rows where goals.0003 and practice_sessions.0002 name a column they
# added (a copy of their constant).
COLUMN_ADDED = "column added"
RECOVERY_DESCRIPTION = (
    "Created by the root_id migration for rows whose fractal could not be determined (their "
    "fractal was deleted, or they had no parent, link or root). Nothing here was deleted: move "
    "each row to its fractal, then delete this goal."
)
MODELS = {
    "goals": ("goals", "Goal"),
    "links": ("goals", "PracticeSessionGoal"),
    "groups": ("goals", "ActivityGroup"),
    "activities": ("goals", "ActivityDefinition"),
    "metrics": ("goals", "MetricDefinition"),
    "splits": ("goals", "SplitDefinition"),
    "templates": ("goals", "SessionTemplate"),
    "repairs": ("goals", "LegacyRepair"),
    "instances": ("practice_sessions", "ActivityInstance"),
    "values": ("practice_sessions", "MetricValue"),
    "programs": ("practice_sessions", "Program"),
    "blocks": ("practice_sessions", "ProgramBlock"),
    "days": ("practice_sessions", "ProgramDay"),
    "scheduled": ("practice_sessions", "ScheduledSession"),
}
# The rows this migration creates that stand for no missing id (the recovery root, session,
# activity, block and program) take an id derived from this namespace and what they are, so
# migrating copies of one file gives the same ids (a placeholder for a missing row keeps the
# missing id). A uuid5 cannot equal a legacy id: legacy ids are uuid4 text, whose version digit
# is 4 where a uuid5's is 5, and each created row is named differently, so none repeats.
CREATED_IDS = uuid.UUID("5b7f1f0e-3c1a-4d55-9a0b-6f1d2c8e7a41")
# Tables whose name must be unique per scope among live rows (constraints of 0005).
UNIQUE_NAMES = (
    ("groups", "root_id"),
    ("activities", "root_id"),
    ("templates", "root_id"),
    ("metrics", "activity_id"),
    ("splits", "activity_id"),
)


def created_id(table: str, what: str) -> str:
    """The id of the one row of `table` this migration creates as `what` (see CREATED_IDS)."""
    return str(uuid.uuid5(CREATED_IDS, f"{MIGRATION} {table} {what}"))


class Backfill:
    """One run of the backfill on one connection."""

    def __init__(self, apps, schema_editor) -> None:
        self.apps = apps
        self.connection = schema_editor.connection
        self.quote = self.connection.ops.quote_name
        self.now = self.connection.ops.adapt_datetimefield_value(timezone.now())
        self.reporter = current_reporter()
        self.tables = {
            key: apps.get_model(app, model)._meta.db_table for key, (app, model) in MODELS.items()
        }
        self.recovery_id = created_id(self.tables["goals"], "recovery root")
        # The activity of the instances made for deleted ones.
        self.recovered_activity = created_id(self.tables["activities"], "recovery activity")
        # Tables whose stamps this run copied from another's (backward_safety.later_digests).
        self.copied_stamps: dict[str, str] = {}
        # SQL's booleans as each database writes them.
        postgresql = self.connection.vendor == "postgresql"
        self.false, self.true = ("FALSE", "TRUE") if postgresql else ("0", "1")
        repairs = apps.get_model("goals", "LegacyRepair")
        # Columns that goals.0003/practice_sessions.0002 added here (they record them). A file
        # adopted at those migrations had them already, from the earlier script: its NULLs are
        # legacy values too, so they are recorded like any legacy value.
        self.added = set(
            repairs.objects.using(self.connection.alias)
            .filter(row_id="", reason=COLUMN_ADDED)
            .values_list("table_name", "column_name")
        )

    def is_legacy(self, key: str, column: str) -> bool:
        """Whether `column` held legacy values before this migration (not added by 0003)."""
        return (self.tables[key], column) not in self.added

    def nullable(self, key: str, column: str) -> bool:
        """Whether the column `column` of `key` takes NULL in this migration's state."""
        app, model = MODELS[key]
        fields = self.apps.get_model(app, model)._meta.concrete_fields
        return next(field.null for field in fields if field.column == column)

    def t(self, key: str) -> str:
        return self.quote(self.tables[key])

    def execute(self, sql: str, params=()) -> int:
        with self.connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.rowcount

    def rows(self, sql: str, params=()) -> list[tuple]:
        with self.connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()

    def say(self, message: str, warning: bool = False) -> None:
        """A warning (what was repaired or recovered) from -v1, a table's progress from -v2."""
        if warning:
            self.reporter.warning(f"    {message}")
        else:
            self.reporter.step(f"  {message}")

    def as_text(self, sql: str) -> str:
        return f"CAST({sql} AS TEXT)" if self.connection.vendor == "postgresql" else sql

    # -- recording -------------------------------------------------------------------------------

    def record(self, key: str, column: str, select: str, params=()) -> int:
        """Record the changes that `select` lists as (row_id, old_value, new_value, reason)."""
        return self.execute(
            f"INSERT INTO {self.t('repairs')} (table_name, row_id, column_name, old_value, "
            "new_value, reason, migration, created_at) "
            "SELECT %s, s.row_id, %s, s.old_value, s.new_value, s.reason, %s, %s "
            f"FROM ({select}) s",
            (self.tables[key], column, MIGRATION, self.now, *params),
        )

    def record_created(self, key: str, ids: list[str], reason: str) -> None:
        with self.connection.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO {self.t('repairs')} (table_name, row_id, column_name, old_value, "
                "new_value, reason, migration, created_at) "
                "VALUES (%s, %s, '*', NULL, NULL, %s, %s, %s)",
                [(self.tables[key], row_id, reason, MIGRATION, self.now) for row_id in ids],
            )

    def set_column(
        self,
        key: str,
        column: str,
        expression: str,
        *,
        reason: str,
        where: str = "1 = 1",
        params=(),
        big: bool = False,
        fills: dict[str, str] | None = None,
        fresh: bool = False,
        fill_every_row: bool = False,
    ) -> int:
        """Set `column` to `expression` (SQL over alias t) on rows where it differs; return
        how many. A `big` table is written anew where it can be
        (goals_project.maintenance.table_rewrite), not updated row by row: on PostgreSQL, and on
        SQLite where the column is one 0003 added.

        `fills` (column: SQL over t) fill NULLs of added columns in the rows the UPDATE writes
        anyway, so that `fill_nulls` of the same columns later writes only the rest: each
        UPDATE of a table writes each row it touches (0.15 s for the activity instances at a
        million metric values). Where one of them is a legacy column, none is filled here:
        fill_nulls records a legacy column's NULLs before it fills them.

        Old values of legacy columns are recorded; for a column goals.0003 added, NULL is what
        0003 put there, so only values already written (not NULL) are worth recording. A
        `fresh` column holds nothing but that NULL (added_while_held): nothing is read for a
        value to record, and each row of `where` is counted as set.

        With `fill_every_row` (a `big` table), the `fills` are made in every row that has a NULL
        in one of them, in the same pass, legacy columns too: the caller records those first.
        """
        legacy = self.is_legacy(key, column)
        if fresh and legacy:
            raise ValueError(f"{key}.{column} is a legacy column, not a fresh one")
        if fill_every_row and not (big and fills):
            raise ValueError("fill_every_row fills a big table's `fills`")
        col = f"t.{self.quote(column)}"
        differs = f"({where}) AND ({col} IS NULL OR {col} <> ({expression}))"
        recorded = (
            differs if legacy else f"({where}) AND {col} IS NOT NULL AND {col} <> ({expression})"
        )
        changed = 0
        if not fresh:
            changed = self.record(
                key,
                column,
                f"SELECT t.id AS row_id, {self.as_text(col)} AS old_value, "
                f"{self.as_text(f'({expression})')} AS new_value, %s AS reason "
                f"FROM {self.t(key)} t WHERE {recorded}",
                (reason,),
            )
        if fills and not fill_every_row and any(self.is_legacy(key, name) for name in fills):
            fills = None
        filled = self.null_fills(fills or {})
        kept = f"CASE WHEN {differs} THEN ({expression}) ELSE {col} END"  # set where it differs
        if big:
            # Every row changes where a fresh column is set in all of them: the rewrite's count.
            every = fresh and where == "1 = 1"
            if not legacy and not every:  # the recorded rows, and those 0003 left NULL
                changed += self.rows(
                    f"SELECT COUNT(*) FROM {self.t(key)} t WHERE ({where}) AND {col} IS NULL"
                )[0][0]
            computed = {column: (kept, ())}
            if fill_every_row:  # each row is written anyway: its NULLs filled, the rest kept
                computed.update((name, (sql, ())) for name, sql in filled.items())
            written = postgres_rewrite(self.connection, self.tables[key], computed, join="")
            if written is not None:
                return written if every else changed
            # On SQLite, a column 0003 added, which the UPDATE below would write in every row
            # (a legacy one it writes where it is wrong): the fills too, in the same rows.
            if not legacy:
                if not fill_every_row:
                    computed.update(
                        (
                            name,
                            (f"CASE WHEN {differs} THEN {sql} ELSE t.{self.quote(name)} END", ()),
                        )
                        for name, sql in filled.items()
                    )
                written = sqlite_rewrite(self.connection, self.tables[key], computed, "")
                if written is not None:
                    return written if every else changed
        touched = differs
        if fill_every_row:  # the NULLs first: a row with one is not looked up for the WHERE
            nulls = " OR ".join(f"t.{self.quote(name)} IS NULL" for name in filled)
            touched = f"{nulls} OR ({differs})"
        sets = [f"{self.quote(column)} = {kept if fill_every_row else f'({expression})'}"]
        sets += [f"{self.quote(name)} = {sql}" for name, sql in filled.items()]
        updated = self.execute(f"UPDATE {self.t(key)} AS t SET {', '.join(sets)} WHERE {touched}")
        return changed if fill_every_row else updated

    # -- placeholders ----------------------------------------------------------------------------

    def placeholders(
        self,
        child: str,
        column: str,
        target: str,
        values: dict[str, str],
        params=(),
        *,
        join: str = "",
        where: str = "",
        then: dict[str, str] | None = None,
    ) -> int:
        """One clearly named row in `target` for each id that `child.column` points to but that
        does not exist; `values` are SQL expressions aggregated over the pointing rows (alias c)
        and what `join` (a LEFT JOIN, so no pointing row is lost) adds to them; `where` (SQL
        over c) picks the pointing rows to look at. `then` replaces some of the values by SQL
        over the aggregated row (alias p, its columns named as in `values`), computed once per
        placeholder: a lookup by an aggregate, which SQLite cannot make inside the aggregate
        query. One scan of `child`: the ids come back from the INSERT itself."""
        ref = f"c.{self.quote(column)}"
        columns = ", ".join(self.quote(name) for name in values)
        if any("%s" in sql for sql in (then or {}).values()):  # it comes first in the SQL
            raise ValueError("a parameter in `then` would take the place of one in `values`")
        found = (
            f"FROM {self.t(child)} c LEFT JOIN {self.t(target)} x ON x.id = {ref} {join} "
            f"WHERE {where + ' AND ' if where else ''}{ref} IS NOT NULL AND x.id IS NULL "
            f"GROUP BY {ref}"
        )
        if then:
            grouped = ", ".join(f"{sql} AS {self.quote(name)}" for name, sql in values.items())
            final = ", ".join(then.get(name, f"p.{self.quote(name)}") for name in values)
            select = f"SELECT p.id, {final} FROM (SELECT {ref} AS id, {grouped} {found}) p"
        else:
            select = f"SELECT {ref}, {', '.join(values.values())} {found}"
        inserted = self.rows(
            f"INSERT INTO {self.t(target)} (id, {columns}) {select} RETURNING id", params
        )
        if blobs := sorted(row[0] for row in inserted if isinstance(row[0], bytes)):
            raise blob_references(
                self.tables[child], column, self.tables[target], blobs, self.nullable(child, column)
            )
        ids = sorted(row[0] for row in inserted)
        if not ids:
            return 0
        self.record_created(target, ids, f"placeholder for {self.tables[child]}.{column}")
        self.say(
            f"{self.tables[target]}: {len(ids)} placeholder row(s) for missing ids that "
            f"{self.tables[child]}.{column} points to",
            warning=True,
        )
        return len(ids)

    # -- the steps, in dependency order ----------------------------------------------------------

    def run(self) -> None:
        self.refuse_blob_keys()
        self.refuse_blob_roots()
        self.create_recovery_root()
        self.goal_placeholders()
        self.goal_roots()
        self.owned_roots()
        self.definition_placeholders_and_roots()
        self.session_rows()
        self.program_rows()
        self.timestamps()
        # The values' stamps are copied from their instances' created_at here (copied_stamps):
        # no step before writes the values' stamps, and none after changes an instance's
        # created_at, or the backward-safety records could no longer rely on the copy.
        self.metric_values()
        self.unique_names()
        self.drop_recovery_root_if_unused()
        # Last: what going back compares against (goals_project.maintenance.backward_safety).
        backfill_state_record(
            connection=self.connection,
            apps=self.apps,
            now=self.now,
            copied_stamps=self.copied_stamps,
        )

    def refuse_blob_keys(self) -> None:
        """Refuse ids stored as blobs, which the preflight refuses in a legacy file and an
        adopted file may have had written since. A text column keeps a blob as a blob, which
        reads as the text of the same bytes yet equals no text: nothing finds the row by its id,
        and the walk down the goal tree could meet one goal twice. Blobs sort after all text, so
        the key's index finds them with a seek (PostgreSQL's ids are varchar)."""
        if self.connection.vendor != "sqlite":
            return
        for key in MODELS:
            if key in ("links", "repairs"):  # keyed by two references; written here
                continue
            blobs = [
                row[0]
                for row in self.rows(
                    f"SELECT id FROM {self.t(key)} WHERE id >= X'' ORDER BY id LIMIT 10"
                )
            ]
            if blobs:
                (count,) = self.rows(f"SELECT COUNT(*) FROM {self.t(key)} WHERE id >= X''")[0]
                raise blob_keys(self.tables[key], count, blobs)

    def refuse_blob_roots(self) -> None:
        """Refuse legacy roots stored as blobs where they are looked up rather than made
        anew: a parentless session's (refused on any goal: no legacy write stores a blob) and
        the fractal-owned tables'. There a blob would find no goal and move its row under the
        recovery root. The references followed through a placeholder are refused there, from
        the ids its INSERT returns (placeholders); the other roots are derived, not looked up.
        These five tables hold root_id in every variant."""
        if self.connection.vendor != "sqlite":
            return
        for key in ("goals", "groups", "activities", "templates", "programs"):
            blobs = [
                row[0]
                for row in self.rows(
                    f"SELECT DISTINCT root_id FROM {self.t(key)} WHERE root_id >= X'' "
                    "ORDER BY root_id"
                )
            ]
            if blobs:
                nullable = self.nullable(key, "root_id")
                raise blob_references(
                    self.tables[key], "root_id", self.tables["goals"], blobs, nullable
                )

    def create_recovery_root(self) -> None:
        self.execute(
            f"INSERT INTO {self.t('goals')} (id, type, name, description, completed, created_at, "
            "updated_at, parent_id, root_id, sort_order) "
            "VALUES (%s, 'UltimateGoal', %s, %s, %s, %s, %s, NULL, %s, 0)",
            (
                self.recovery_id,
                RECOVERY_NAME,
                RECOVERY_DESCRIPTION,
                False,
                self.now,
                self.now,
                self.recovery_id,
            ),
        )
        self.record_created("goals", [self.recovery_id], "recovery root")

    def missing_goal(self, goal_type: str) -> dict[str, str]:
        return {
            "type": f"'{goal_type}'",
            "name": f"'Missing goal (' || MIN({self.as_text('c.__ref__')}) || ')'",
            "description": "'Placeholder for a goal that was deleted; rows pointing to it kept.'",
            "completed": self.false,
            "created_at": "%s",
            "updated_at": "%s",
            "parent_id": "%s",
            "root_id": "%s",
            "sort_order": "0",
        }

    def goal_placeholders(self) -> None:
        for column, goal_type in (("parent_id", "LongTermGoal"),):
            values = self.missing_goal(goal_type)
            values["name"] = values["name"].replace("__ref__", column)
            self.placeholders(
                "goals",
                column,
                "goals",
                values,
                (self.now, self.now, self.recovery_id, self.recovery_id),
            )
        for column, goal_type in (
            ("short_term_goal_id", "ShortTermGoal"),
            ("practice_session_id", "PracticeSession"),
        ):
            values = self.missing_goal(goal_type)
            values["name"] = values["name"].replace("__ref__", column)
            self.placeholders(
                "links",
                column,
                "goals",
                values,
                (self.now, self.now, self.recovery_id, self.recovery_id),
            )

    def goal_roots(self) -> None:
        """Every goal's root by the one rule (goals.roots), over the whole graph.

        Each goal hangs, through its parents, from one goal without a parent: its top. A top of
        a root type is a fractal's root. A top that is a practice session takes the smallest
        fractal among the goals it is linked to that have one (or, with no link at all, the
        fractal its legacy root_id leads to); as a linked goal may itself hang from such a
        session, this is repeated until no session's fractal changes (a fractal only ever gets
        smaller, so it ends). A goal takes its top's fractal. What has none (a cycle, a session
        with no parent, link or root) goes under the recovery root.
        """
        goals = self.t("goals")
        parentless = ", ".join(f"'{goal_type}'" for goal_type in PARENTLESS_TYPES)
        # Goals that only hang below another (immediate, micro, nano) but have no parent: orphans.
        orphans = f"t.parent_id IS NULL AND t.type NOT IN ({parentless})"
        self.record(
            "goals",
            "parent_id",
            f"SELECT t.id AS row_id, NULL AS old_value, %s AS new_value, "
            f"'orphan goal moved under the recovery root' AS reason FROM {goals} t WHERE {orphans}",
            (self.recovery_id,),
        )
        moved = self.execute(
            f"UPDATE {goals} AS t SET parent_id = %s WHERE {orphans}", (self.recovery_id,)
        )
        if moved:
            self.say(
                f"goals: {moved} goal(s) without a parent moved under '{RECOVERY_NAME}'",
                warning=True,
            )
        sqlite = self.connection.vendor == "sqlite"
        self.key_table("goal_tops", "id VARCHAR(64) PRIMARY KEY, top_id VARCHAR(64)")
        self.key_table(
            "top_roots",
            "top_id VARCHAR(64) PRIMARY KEY, is_session INTEGER NOT NULL, root_id VARCHAR(64)",
        )
        # On SQLite the walk down reads each goal's children from a table of (parent, child)
        # pairs in that key order, not from an automatic index on the goals' parent_id, which
        # SQLite builds as part of the walk's statement and reads together with the goals (1.0
        # to 1.6 s at a million metric values, against 0.7 to 1.0 s with the table).
        children = f"{goals} c"
        if sqlite:
            self.key_table(
                "goal_children",
                "parent_id VARCHAR(64), id VARCHAR(64), PRIMARY KEY (parent_id, id)",
            )
            self.execute(
                "INSERT INTO goal_children (parent_id, id) SELECT CAST(parent_id AS VARCHAR(64)),"
                f" CAST(id AS VARCHAR(64)) FROM {goals} WHERE parent_id IS NOT NULL ORDER BY 1, 2"
            )
            children = "goal_children c"
        # UNION ALL, without a search for duplicates: a goal has one parent, so the walk down
        # from the parentless goals reaches each goal once at most, and never a cycle (the
        # parents of its goals are in it). That holds because no two ids read as the same text
        # (refuse_blob_keys). GROUP BY writes goal_tops in key order. The casts keep every
        # term of one type.
        self.execute(
            "INSERT INTO goal_tops (id, top_id) WITH RECURSIVE tree(id, top_id) AS ("
            f" SELECT CAST(id AS VARCHAR(64)), CAST(id AS VARCHAR(64)) FROM {goals} "
            "WHERE parent_id IS NULL"
            f" UNION ALL SELECT CAST(c.id AS VARCHAR(64)), tree.top_id FROM {children} "
            "JOIN tree ON c.parent_id = tree.id"
            ") SELECT id, MIN(top_id) FROM tree GROUP BY id"
        )
        if sqlite:
            self.execute("DROP TABLE goal_children")
        session = GoalType.PRACTICE_SESSION.value
        self.execute(
            "INSERT INTO top_roots (top_id, is_session, root_id) "
            f"SELECT id, CASE WHEN type = '{session}' THEN 1 ELSE 0 END, "
            f"CASE WHEN type = '{session}' THEN NULL ELSE id END "
            f"FROM {goals} WHERE parent_id IS NULL"
        )
        candidate = self.session_fractal_sql()
        while self.execute(
            f"UPDATE top_roots SET root_id = ({candidate}) WHERE is_session = 1 "
            f"AND ({candidate}) IS NOT NULL AND (root_id IS NULL OR ({candidate}) < root_id)"
        ):
            pass
        disagree = self.rows(
            f"SELECT l.practice_session_id FROM {self.t('links')} l "
            "JOIN top_roots s ON s.top_id = l.practice_session_id AND s.is_session = 1 "
            "JOIN goal_tops g ON g.id = l.short_term_goal_id "
            "JOIN top_roots r ON r.top_id = g.top_id "
            f"WHERE r.root_id <> '{self.recovery_id}' "
            "GROUP BY l.practice_session_id HAVING COUNT(DISTINCT r.root_id) > 1 ORDER BY 1"
        )
        if disagree:
            self.say(
                f"goals: {len(disagree)} session(s) linked to goals of different fractals took "
                f"the smallest root id (first: {', '.join(row[0] for row in disagree[:5])})",
                warning=True,
            )
        # Each goal's fractal, looked up once per goal below, not through its top each time. On
        # SQLite by the goal's rowid, and read in the goals' rowid order (NOT INDEXED, where
        # SQLite would read the key's index): an integer key is found faster than a text one,
        # and the goals' root is recorded and written with a lookup or two per goal. Alone on a
        # copy at 1m, the table built, counted, recorded and written: 0.49 s against 0.83 s.
        # The walk's tables are read in key order (CROSS JOIN keeps the order given), each
        # goal's rowid found in the goals' key.
        if sqlite:
            self.key_table(
                "goal_fractals",
                "goal INTEGER PRIMARY KEY, root_id VARCHAR(64) NOT NULL",
                rowid=True,
            )
            self.execute(
                "INSERT INTO goal_fractals (goal, root_id) SELECT t.rowid, r.root_id "
                f"FROM goal_tops g CROSS JOIN top_roots r CROSS JOIN {goals} t "
                "WHERE r.top_id = g.top_id AND t.id = g.id AND r.root_id IS NOT NULL "
                "ORDER BY t.rowid"
            )
            fractal_of, in_order = "f.goal = t.rowid", " NOT INDEXED"
        else:
            self.key_table(
                "goal_fractals", "id VARCHAR(64) PRIMARY KEY, root_id VARCHAR(64) NOT NULL"
            )
            self.execute(
                "INSERT INTO goal_fractals (id, root_id) SELECT g.id, r.root_id FROM goal_tops g "
                "JOIN top_roots r ON r.top_id = g.top_id WHERE r.root_id IS NOT NULL ORDER BY g.id"
            )
            fractal_of, in_order = "f.id = t.id", ""
        self.execute("DROP TABLE goal_tops")
        self.execute("DROP TABLE top_roots")
        recovered = self.rows(
            f"SELECT COUNT(*) FROM {goals} t{in_order} WHERE NOT EXISTS "
            f"(SELECT 1 FROM goal_fractals f WHERE {fractal_of})"
        )[0][0]
        if recovered:
            self.say(
                f"goals: {recovered} row(s) whose fractal is unknown moved under '{RECOVERY_NAME}'",
                warning=True,
            )
        # The goals' audit and order columns are filled in the pass that writes their roots,
        # not in one of their own (timestamps): each pass writes every row it touches (0.1 s at a
        # million metric values). Their created_at first, which fills updated_at.
        self.fill_created_at("goals", GOAL_CREATED, (self.now,))
        for name, expression in GOAL_FILLS.items():
            if self.is_legacy("goals", name):
                self.record_filled("goals", name, expression)
        changed = self.set_column(
            "goals",
            "root_id",
            f"COALESCE((SELECT f.root_id FROM goal_fractals f WHERE {fractal_of}), "
            f"'{self.recovery_id}')",
            reason="root derived from the tree",
            big=True,
            fills=GOAL_FILLS,
            fill_every_row=True,
        )
        total = self.rows(f"SELECT COUNT(*) FROM {goals}")[0][0]
        self.say(f"goals: root_id {total}/{total} rows ({changed} set or corrected)")
        self.execute("DROP TABLE goal_fractals")

    def key_table(self, name: str, columns: str, *, rowid: bool = False) -> None:
        """A new temporary table of the goal tree's walk. On SQLite it is stored in its key's
        order (WITHOUT ROWID): a goal's top or root is one search, not the key's index and then
        the row; the statements that look them up for every goal took 40% less at a million
        metric values. With `rowid`, its key is an INTEGER PRIMARY KEY, the rowid itself, by
        which a rowid table is stored already."""
        by_key = " WITHOUT ROWID" if self.connection.vendor == "sqlite" and not rowid else ""
        self.execute(f"DROP TABLE IF EXISTS {name}")
        self.execute(f"CREATE TEMPORARY TABLE {name} ({columns}){by_key}")

    def session_fractal_sql(self) -> str:
        """SQL for the fractal a parentless session (alias top_roots) takes now: the smallest
        fractal of its linked goals that have one (not the recovery root), or, with no link at
        all, the fractal of the goal its legacy root_id names."""
        goals, links = self.t("goals"), self.t("links")
        linked_roots = (
            f"SELECT r.root_id FROM {links} l JOIN goal_tops g ON g.id = l.short_term_goal_id "
            "JOIN top_roots r ON r.top_id = g.top_id "
            "WHERE l.practice_session_id = top_roots.top_id AND r.root_id IS NOT NULL "
            f"AND r.root_id <> '{self.recovery_id}'"
        )
        legacy_root = (
            f"SELECT r.root_id FROM {goals} s JOIN goal_tops g ON g.id = s.root_id "
            "JOIN top_roots r ON r.top_id = g.top_id "
            "WHERE s.id = top_roots.top_id AND r.root_id IS NOT NULL "
            f"AND r.root_id <> '{self.recovery_id}' AND NOT EXISTS "
            f"(SELECT 1 FROM {links} l WHERE l.practice_session_id = s.id)"
        )
        return f"COALESCE((SELECT MIN(x.root_id) FROM ({linked_roots}) x), ({legacy_root}))"

    def valid_root(self, column: str) -> str:
        """The root of the goal `column` points to, or the recovery root if it is missing."""
        return (
            f"COALESCE((SELECT g.root_id FROM {self.t('goals')} g WHERE g.id = t.{column}), "
            f"'{self.recovery_id}')"
        )

    def report_roots(self, key: str, changed: int) -> None:
        total = self.rows(f"SELECT COUNT(*) FROM {self.t(key)}")[0][0]
        recovered = self.rows(
            f"SELECT COUNT(*) FROM {self.t(key)} WHERE root_id = %s", (self.recovery_id,)
        )[0][0]
        self.say(f"{self.tables[key]}: root_id {total}/{total} rows ({changed} set or corrected)")
        if recovered:
            self.say(
                f"{self.tables[key]}: {recovered} row(s) under '{RECOVERY_NAME}'", warning=True
            )

    def owned_roots(self) -> None:
        for key in ("groups", "activities", "templates", "programs"):
            changed = self.set_column(
                key,
                "root_id",
                self.valid_root("root_id"),
                reason="root corrected to the fractal's root",
            )
            self.report_roots(key, changed)

    def smallest(self, expression: str, created: str) -> str:
        """SQL aggregate over the pointing rows (alias c) for a placeholder's choice among them:
        the smallest `expression` other than `created` (a row this migration made for what it
        could not place), else `created`. So where a created row stands among the candidates
        never decides, and copies of one file choose alike."""
        return f"COALESCE(MIN(NULLIF({expression}, '{created}')), MIN({expression}))"

    def named_placeholder(self, what: str, column: str) -> str:
        return f"'{what} (missing ' || SUBSTR(MIN({self.as_text('c.' + column)}), 1, 8) || ')'"

    def definition_placeholders_and_roots(self) -> None:
        now = self.now
        self.placeholders(
            "activities",
            "group_id",
            "groups",
            {
                "root_id": self.smallest("c.root_id", self.recovery_id),
                "name": self.named_placeholder("Activity group", "group_id"),
                "description": "'Placeholder for a deleted activity group.'",
                "created_at": "%s",
                "updated_at": "%s",
                "sort_order": "0",
            },
            (now, now),
        )
        activity = {
            "root_id": "%s",
            "name": self.named_placeholder("Activity", "__col__"),
            "description": "'Placeholder for a deleted activity definition.'",
            "created_at": "%s",
            "updated_at": "%s",
            "has_sets": self.false,
            "has_metrics": self.true,
            "metrics_multiplicative": self.false,
            "has_splits": self.false,
        }
        for child in ("metrics", "splits"):
            values = dict(activity, name=activity["name"].replace("__col__", "activity_id"))
            self.placeholders(
                child, "activity_id", "activities", values, (self.recovery_id, now, now)
            )
        for key in ("metrics", "splits"):
            changed = self.set_column(
                key,
                "root_id",
                f"SELECT a.root_id FROM {self.t('activities')} a WHERE a.id = t.activity_id",
                reason="root of the activity",
            )
            self.report_roots(key, changed)

    def session_rows(self) -> None:
        now = self.now
        goals = self.t("goals")
        self.placeholders(
            "goals",
            "template_id",
            "templates",
            {
                "root_id": self.smallest("c.root_id", self.recovery_id),
                "name": self.named_placeholder("Session template", "template_id"),
                "description": "'Placeholder for a deleted session template.'",
                "template_data": "'{}'",
                "created_at": "%s",
                "updated_at": "%s",
            },
            (now, now),
        )
        session = self.missing_goal("PracticeSession")
        session["name"] = session["name"].replace("__ref__", "practice_session_id")
        sessions = ("instances", "practice_session_id", "goals", session)
        sessions_params = (now, now, None, self.recovery_id)
        root = f"SELECT g.root_id FROM {goals} g WHERE g.id = t.practice_session_id"
        # The instances' created_at first, which their updated_at is filled from where they
        # have no time_stop: in the pass that writes their roots below, not after it.
        self.fill_created_at(
            "instances",
            "COALESCE(t.time_start, (SELECT COALESCE(g.created_at, g.session_start) "
            f"FROM {goals} g WHERE g.id = t.practice_session_id), %s)",
            (now,),
        )
        fresh = self.added_while_held("instances", "root_id")

        def roots_written() -> int:
            return self.set_column(
                "instances",
                "root_id",
                root,
                reason="root of the session",
                big=True,
                fills=self.instance_fills(),
                fresh=fresh,
            )

        if fresh:
            # The instances are written first, each looking up its session: one whose session
            # is gone is left without a root, and those are the rows the placeholders are
            # looked for in (as the values are, metric_values), not every instance (0.1 s at a
            # million metric values).
            changed = roots_written()
            if self.placeholders(*sessions, sessions_params, where="c.root_id IS NULL"):
                self.execute(
                    f"UPDATE {self.t('instances')} AS t SET root_id = ({root}) "
                    "WHERE t.root_id IS NULL"
                )
        else:
            self.placeholders(*sessions, sessions_params)
        self.placeholders(
            "instances",
            "activity_definition_id",
            "activities",
            {
                "root_id": self.smallest(
                    f"(SELECT g.root_id FROM {goals} g WHERE g.id = c.practice_session_id)",
                    self.recovery_id,
                ),
                "name": self.named_placeholder("Activity", "activity_definition_id"),
                "description": "'Placeholder for a deleted activity definition.'",
                "created_at": "%s",
                "updated_at": "%s",
                "has_sets": self.false,
                "has_metrics": self.true,
                "metrics_multiplicative": self.false,
                "has_splits": self.false,
            },
            (now, now),
        )
        if not fresh:
            changed = roots_written()
        self.report_roots("instances", changed)

    def metric_values(self) -> None:
        """Instances, definitions and splits that were deleted; then root and timestamps.

        On SQLite, where 0003 added the values' root and stamps, the pass that writes them comes
        first (the table written anew, table_rewrite, or else an UPDATE): it joins each value to
        its instance, so the values of deleted instances are the ones it leaves without a root,
        and the placeholders for those are found by a scan that looks nothing up (finding them
        by looking up every value's instance first took 0.6 s at a million metric values; the
        pass looks them up anyway). Elsewhere the placeholders
        come first: PostgreSQL writes the table anew from the join, which would leave those
        values out, and a root or stamp kept from the legacy file, or a root another program
        wrote since 0003, is no sign of a lookup that failed."""
        if self.values_written_first():
            if all(self.added_while_held("values", column) for column in VALUE_STAMPS):
                # Each value's stamps are now its instance's created_at (its time_start where
                # that is NULL) or, for the values of deleted instances, this run's time: what
                # the backward-safety records may rely on (backward_safety.later_digests).
                self.copied_stamps[self.tables["values"]] = self.tables["instances"]
            total, whole = self.values_roots_and_stamps(fresh=True)
            if self.deleted_instances(where="c.root_id IS NULL"):
                again, _ = self.values_roots_and_stamps(fresh=True, where="t.root_id IS NULL")
                total += 0 if whole else again
        else:
            self.deleted_instances()
            total, _ = self.values_roots_and_stamps(fresh=False)
        self.deleted_definitions()
        self.say(f"{self.tables['values']}: root_id {total}/{total} rows")

    def added_while_held(self, key: str, column: str) -> bool:
        """Whether `column` of the instances or the values (`key`) holds only NULL, by how it
        came to be: on SQLite, added by practice_sessions.0002 (not a legacy column) in the
        transaction this runs in, which holds the file's write lock (applied_while_held), so
        that no other program can have written to it since; no step before the one asking
        writes to it."""
        return (
            self.connection.vendor == "sqlite"
            and not self.is_legacy(key, column)
            and SESSION_COLUMNS_ADDED in applied_while_held(self.connection)
        )

    def values_written_first(self) -> bool:
        """Whether the values' UPDATE comes before the placeholders of deleted instances (see
        metric_values): on SQLite, where 0003 added the values' root and stamps and no value
        has a root yet (another program may have written one since), so that a root left NULL
        by the UPDATE's join means an instance that is gone, and nothing is recorded.

        Where the root was added in the transaction this runs in (added_while_held), no value
        is read for one (a read of every value, 0.08 s at a million metric values)."""
        if self.connection.vendor != "sqlite" or any(
            self.is_legacy("values", column) for column in ("root_id", *VALUE_STAMPS)
        ):
            return False
        if self.added_while_held("values", "root_id"):
            return True
        ((rooted,),) = self.rows(
            f"SELECT EXISTS (SELECT 1 FROM {self.t('values')} WHERE root_id IS NOT NULL)"
        )
        return not rooted

    def deleted_instances(self, where: str = "") -> int:
        """Placeholders for the deleted instances that values point to (one scan finds and
        writes them, over the values `where` picks); the session and activity they point to are
        created only when there are any."""
        now = self.now
        goals = self.t("goals")
        recovered_session = created_id(self.tables["goals"], "recovery session")
        created = self.placeholders(
            "values",
            "activity_instance_id",
            "instances",
            {
                "practice_session_id": "%s",
                "activity_definition_id": "%s",
                "root_id": "%s",
                "created_at": "%s",
                "updated_at": "%s",
                "sort_order": "0",
                "completed": self.false,
            },
            (recovered_session, self.recovered_activity, self.recovery_id, now, now),
            where=where,
        )
        if created:
            self.execute(
                f"INSERT INTO {goals} (id, type, name, description, completed, created_at, "
                "updated_at, parent_id, root_id, sort_order) VALUES "
                "(%s, 'PracticeSession', 'Recovered activity instances', "
                "'Placeholder session for activity instances that were deleted.', "
                f"{self.false}, %s, %s, NULL, %s, 0)",
                (recovered_session, now, now, self.recovery_id),
            )
            self.record_created("goals", [recovered_session], "recovery session")
            self.execute(
                f"INSERT INTO {self.t('activities')} (id, root_id, name, description, created_at, "
                "updated_at, has_sets, has_metrics, metrics_multiplicative, has_splits) VALUES "
                "(%s, %s, 'Recovered activity', 'Placeholder for deleted activity instances.', "
                f"%s, %s, {self.false}, {self.true}, {self.false}, {self.false})",
                (self.recovered_activity, self.recovery_id, now, now),
            )
            self.record_created("activities", [self.recovered_activity], "recovery activity")
        return created

    def deleted_definitions(self) -> None:
        """Placeholders for the deleted metric and split definitions that values point to, in
        their activity's fractal. Every value has an instance by now."""
        now = self.now
        # A definition whose values are on several instances goes to the activity of the first
        # of them (by id) that is not a recovered instance (made above for a deleted one, with
        # the recovered activity), of the first of all when no other is left. The values choose
        # the instance by its id, and it alone is looked up: a join of every value to its
        # instance, for the smallest activity, took 0.6 s more at a million metric values.
        recovered = (
            f"SELECT r.row_id FROM {self.t('repairs')} r WHERE r.table_name = "
            f"'{self.tables['instances']}' AND r.column_name = '*'"
        )
        first_instance = (
            f"COALESCE(MIN(CASE WHEN c.activity_instance_id NOT IN ({recovered}) "
            "THEN c.activity_instance_id END), MIN(c.activity_instance_id))"
        )
        activity_of_instance = {
            "activity_id": f"(SELECT i.activity_definition_id FROM {self.t('instances')} i "
            "WHERE i.id = p.activity_id)"
        }
        self.placeholders(
            "values",
            "metric_definition_id",
            "metrics",
            {
                "activity_id": first_instance,  # its instance's activity: `then`
                "root_id": "%s",  # its activity's, set below
                "name": self.named_placeholder("Deleted metric", "metric_definition_id"),
                "unit": "''",
                "created_at": "%s",
                "updated_at": "%s",
                "deleted_at": "%s",
                "is_active": self.false,
                "is_top_set_metric": self.false,
                "is_multiplicative": self.true,
                "sort_order": "0",
            },
            (self.recovery_id, now, now, now),
            then=activity_of_instance,
        )
        self.placeholders(
            "values",
            "split_definition_id",
            "splits",
            {
                "activity_id": first_instance,
                "root_id": "%s",
                "name": self.named_placeholder("Deleted split", "split_definition_id"),
                "order": "0",
                "created_at": "%s",
                "updated_at": "%s",
                "deleted_at": "%s",
            },
            (self.recovery_id, now, now, now),
            then=activity_of_instance,
        )
        # A placeholder definition belongs to its activity's fractal, whatever the values say
        # (the roots of their instances are not gathered for it: sorting them with the pointing
        # rows cost 0.15 s at a million metric values).
        for key in ("metrics", "splits"):
            self.execute(
                f"UPDATE {self.t(key)} AS t SET root_id = (SELECT a.root_id FROM "
                f"{self.t('activities')} a WHERE a.id = t.activity_id) WHERE t.id IN "
                f"(SELECT r.row_id FROM {self.t('repairs')} r WHERE r.table_name = %s "
                "AND r.column_name = '*')",
                (self.tables[key],),
            )

    def values_roots_and_stamps(self, *, fresh: bool, where: str = "1 = 1") -> tuple[int, bool]:
        """One pass over the values `where` picks: root and audit timestamps from the instance,
        the changes to legacy values recorded first. With `fresh` columns (added by 0003, no
        value with a root: values_written_first) there is nothing to record, and a value whose
        instance is gone is left as it is, to be found by its NULL root.

        Returns how many values it gave a root and whether that is every value: where the table
        was written anew (table_rewrite), those of deleted instances are counted too, written
        as they were."""
        now = self.now
        values, instances = self.t("values"), self.t("instances")
        on = "i.id = t.activity_instance_id"
        join = f"JOIN {instances} i ON {on}"
        if not fresh:
            differs = "t.root_id <> i.root_id"
            if self.is_legacy("values", "root_id"):
                differs = f"(t.root_id IS NULL OR {differs})"
            else:  # the same rows (NULL differs from nothing), no NULL joined to its instance
                differs = f"t.root_id IS NOT NULL AND {differs}"
            self.record(
                "values",
                "root_id",
                f"SELECT t.id AS row_id, t.root_id AS old_value, i.root_id AS new_value, "
                f"'root of the activity instance' AS reason FROM {values} t {join} WHERE {differs}",
            )
            for column, expression in (
                ("created_at", "COALESCE(i.created_at, i.time_start, %s)"),
                ("updated_at", "COALESCE(t.created_at, i.created_at, i.time_start, %s)"),
            ):
                if self.is_legacy("values", column):
                    self.record_filled("values", column, expression, (now,), join)
        # A join, not three correlated lookups a row.
        computed = {
            "root_id": ("i.root_id", ()),
            "created_at": ("COALESCE(t.created_at, i.created_at, i.time_start, %s)", (now,)),
            "updated_at": (
                "COALESCE(t.updated_at, t.created_at, i.created_at, i.time_start, %s)",
                (now,),
            ),
        }
        total = None
        if not fresh:  # every value has an instance by now, so the join matches each row once
            total = postgres_rewrite(self.connection, self.tables["values"], computed, join=join)
        elif where == "1 = 1":  # each value as the UPDATE below leaves it: unmatched, unchanged
            total = sqlite_rewrite(
                self.connection,
                self.tables["values"],
                {
                    column: (f"CASE WHEN i.id IS NULL THEN t.{column} ELSE {sql} END", params)
                    for column, (sql, params) in computed.items()
                },
                join=f"LEFT {join}",
            )
        if total is not None:
            return total, True
        # A part of the table, or a table it would not write anew.
        sets = ", ".join(f"{column} = {sql}" for column, (sql, _) in computed.items())
        total = self.execute(
            f"UPDATE {values} AS t SET {sets} FROM {instances} i WHERE {on} AND {where}",
            tuple(value for _, params in computed.values() for value in params),
        )
        return total, False

    def program_rows(self) -> None:
        now = self.now
        self.placeholders(
            "blocks",
            "program_id",
            "programs",
            {
                "root_id": "%s",
                "name": self.named_placeholder("Program", "program_id"),
                "description": "'Placeholder for a deleted program.'",
                "start_date": "%s",
                "end_date": "%s",
                "created_at": "%s",
                "updated_at": "%s",
                "is_active": self.false,
                "goal_ids": "'[]'",
                "weekly_schedule": "'{}'",
            },
            (self.recovery_id, now, now, now, now),
        )
        if self.placeholders(
            "days",
            "block_id",
            "blocks",
            {"program_id": "%s", "name": self.named_placeholder("Program block", "block_id")},
            ("__program__",),
        ):
            self.execute(
                f"UPDATE {self.t('blocks')} SET program_id = %s WHERE program_id = %s",
                (self.recovery_program(), "__program__"),
            )
        self.placeholders(
            "scheduled",
            "session_template_id",
            "templates",
            {
                "root_id": "%s",
                "name": self.named_placeholder("Session template", "session_template_id"),
                "description": "'Placeholder for a deleted session template.'",
                "template_data": "'{}'",
                "created_at": "%s",
                "updated_at": "%s",
            },
            (self.recovery_id, now, now),
        )
        if self.placeholders(
            "scheduled",
            "day_id",
            "days",
            {"block_id": "%s", "name": self.named_placeholder("Program day", "day_id")},
            ("__block__",),
        ):
            block = created_id(self.tables["blocks"], "recovery block")
            self.execute(
                f"INSERT INTO {self.t('blocks')} (id, program_id, name) VALUES "
                "(%s, %s, 'Recovered program days')",
                (block, self.recovery_program()),
            )
            self.record_created("blocks", [block], "recovery block")
            self.execute(
                f"UPDATE {self.t('days')} SET block_id = %s WHERE block_id = %s",
                (block, "__block__"),
            )

    def recovery_program(self) -> str:
        """A program under the recovery root for blocks and days whose program was deleted."""
        if not hasattr(self, "_recovery_program"):
            self._recovery_program = created_id(self.tables["programs"], "recovery program")
            self.execute(
                f"INSERT INTO {self.t('programs')} (id, root_id, name, description, start_date, "
                "end_date, created_at, updated_at, is_active, goal_ids, weekly_schedule) VALUES "
                "(%s, %s, 'Recovered program', 'Placeholder for deleted programs.', %s, %s, %s, "
                f"%s, {self.false}, '[]', '{{}}')",
                (self._recovery_program, self.recovery_id, self.now, self.now, self.now, self.now),
            )
            self.record_created("programs", [self._recovery_program], "recovery program")
        return self._recovery_program

    def timestamps(self) -> None:
        now = self.now
        for key, expression in (  # the goals' in goal_roots, the instances' in session_rows
            ("groups", "%s"),
            ("activities", "%s"),
            ("metrics", "%s"),
            ("splits", "%s"),
            ("templates", "%s"),
            ("programs", "COALESCE(t.updated_at, t.start_date, %s)"),
        ):
            self.fill_created_at(key, expression, (now,))
        for key in ("programs", "groups", "activities", "splits", "templates"):
            self.fill_null(key, "updated_at", "t.created_at", ())
        # One UPDATE for both (each writes every row it touches); the goals' in goal_roots.
        self.fill_nulls("metrics", GOAL_FILLS)
        # One pass over a big table for the columns 0003 added to it (they hold only NULLs, so
        # nothing is recorded unless they were legacy columns): each UPDATE writes every row.
        # Where the roots' UPDATE filled them (session_rows), it writes the rest; where that
        # wrote every row, none is left (a read of every instance, 0.04 s at 1m).
        if not self.instances_filled():
            self.fill_nulls("instances", self.instance_fills())

    def fill_created_at(self, key: str, expression: str, params) -> None:
        filled = self.fill_null(key, "created_at", expression, params)
        if filled:
            self.say(f"{self.tables[key]}: created_at filled on {filled} row(s) that had none")

    def instances_filled(self) -> bool:
        """Whether session_rows filled the instances' audit and order columns in every row, in
        the pass that wrote their roots first (added_while_held), none left NULL (their
        created_at was filled before it): set_column fills none of them when one is a legacy
        column."""
        return self.added_while_held("instances", "root_id") and not any(
            self.is_legacy("instances", column) for column in self.instance_fills()
        )

    def instance_fills(self) -> dict[str, str]:
        """What fills the NULLs of the instances' audit and order columns (SQL over t)."""
        return {
            "updated_at": "COALESCE(t.time_stop, t.created_at)",
            "sort_order": "0",
            "completed": self.false,
        }

    def fill_nulls(self, key: str, expressions: dict[str, str]) -> None:
        """Fill the NULLs of several added columns of one table in a single pass: the table
        written anew on PostgreSQL (goals_project.maintenance.table_rewrite), one UPDATE
        elsewhere."""
        for column, expression in expressions.items():
            if self.is_legacy(key, column):
                self.record_filled(key, column, expression)
        filled = self.null_fills(expressions)
        computed = {column: (sql, ()) for column, sql in filled.items()}
        if postgres_rewrite(self.connection, self.tables[key], computed, join="") is not None:
            return
        sets = ", ".join(f"{self.quote(column)} = {sql}" for column, sql in filled.items())
        where = " OR ".join(f"t.{self.quote(column)} IS NULL" for column in expressions)
        self.execute(f"UPDATE {self.t(key)} AS t SET {sets} WHERE {where}")

    def null_fills(self, expressions: dict[str, str]) -> dict[str, str]:
        """Each column of `expressions` (column: SQL over t) as SQL keeping its value and
        filling its NULL: the one form of a fill, in set_column's rows and in fill_nulls'."""
        return {
            column: f"COALESCE(t.{self.quote(column)}, {expression})"
            for column, expression in expressions.items()
        }

    def record_filled(self, key: str, column: str, expression: str, params=(), join="") -> int:
        """Record the NULLs of a legacy column that `expression` (over t, and `join`) fills."""
        return self.record(
            key,
            column,
            f"SELECT t.id AS row_id, NULL AS old_value, {self.as_text(f'({expression})')} "
            f"AS new_value, 'missing {column} filled' AS reason "
            f"FROM {self.t(key)} t {join} WHERE t.{self.quote(column)} IS NULL",
            params,
        )

    def fill_null(self, key: str, column: str, expression: str, params) -> int:
        col = self.quote(column)
        if self.is_legacy(key, column):
            self.record_filled(key, column, expression, params)
        return self.execute(
            f"UPDATE {self.t(key)} AS t SET {col} = ({expression}) WHERE t.{col} IS NULL", params
        )

    def unique_names(self) -> None:
        for key, scope in UNIQUE_NAMES:
            table = self.t(key)
            duplicates = self.rows(
                f"SELECT t.id, t.{scope}, t.name FROM {table} t "
                f"JOIN (SELECT {scope} AS scope, name FROM {table} WHERE deleted_at IS NULL "
                f"GROUP BY {scope}, name HAVING COUNT(*) > 1) d "
                f"ON d.scope = t.{scope} AND d.name = t.name "
                f"WHERE t.deleted_at IS NULL ORDER BY t.{scope}, t.name, t.created_at, t.id"
            )
            renamed = 0
            seen: dict[tuple, int] = {}
            for row_id, scope_id, name in duplicates:
                position = seen[(scope_id, name)] = seen.get((scope_id, name), 0) + 1
                if position == 1:
                    continue
                taken = {
                    row[0]
                    for row in self.rows(
                        f"SELECT name FROM {table} WHERE {scope} = %s AND deleted_at IS NULL",
                        (scope_id,),
                    )
                }
                number = position
                while f"{name} ({number})" in taken:
                    number += 1
                new_name = f"{name} ({number})"
                self.record(
                    key,
                    "name",
                    "SELECT %s AS row_id, %s AS old_value, %s AS new_value, "
                    "'duplicate name renamed' AS reason",
                    (row_id, name, new_name),
                )
                self.execute(f"UPDATE {table} SET name = %s WHERE id = %s", (new_name, row_id))
                renamed += 1
            if renamed:
                self.say(
                    f"{self.tables[key]}: {renamed} duplicate name(s) renamed '<name> (n)'",
                    warning=True,
                )

    def drop_recovery_root_if_unused(self) -> None:
        """Delete the recovery root when no other row holds it; else say how many do.

        A chain's table whose column takes no NULL is not read when no row of the table it
        hangs from holds the recovery root (goals aside, where the root itself does): each of
        its rows has its parent's root, by the chain's key (goals.roots), which the constraint
        migrations check, refusing the migration where a row breaks it. At a million metric
        values that spares a scan of them."""
        keys = {table: key for key, table in self.tables.items()}
        held: dict[str, int] = {}
        for table in ROOT_TABLES:
            chain = CHAINS.get(table)
            if (
                chain is not None
                and chain.parent_table != self.tables["goals"]
                and held.get(chain.parent_table) == 0
                and not self.nullable(keys[table], chain.column)
            ):
                held[table] = 0
                continue
            held[table] = self.rows(
                f"SELECT COUNT(*) FROM {self.quote(table)} WHERE root_id = %s AND id <> %s",
                (self.recovery_id, self.recovery_id),
            )[0][0]
        used = sum(held.values())
        if used:
            self.say(f"'{RECOVERY_NAME}' ({self.recovery_id}) holds {used} row(s)", warning=True)
            return
        self.execute(f"DELETE FROM {self.t('goals')} WHERE id = %s", (self.recovery_id,))
        self.execute(f"DELETE FROM {self.t('repairs')} WHERE row_id = %s", (self.recovery_id,))


def blob_keys(table: str, count: int, blobs: list[bytes]) -> CommandError:
    """The refusal of `count` ids stored as blobs in an adopted file, `blobs` the first of them
    (refuse_blob_keys)."""
    shown = ", ".join(shown_id(blob) for blob in blobs)
    return CommandError(
        f"{table}.id holds {count} id(s) stored as a blob, not text (first: {shown}): SQLite "
        "finds no row by a blob, so neither can this migration. It was rolled back: no row was "
        "changed (with --no-backup the file stays migrated up to goals.0003). Give each of these "
        "rows a text key "
        f"of its own (after a backup; find them with: SELECT rowid, * FROM {table} WHERE "
        "typeof(id) = 'blob';), then run migrate again.",
        returncode=Exit.BAD_KEYS,
    )


def blob_references(
    child: str, column: str, target: str, blobs: list[bytes], nullable: bool
) -> CommandError:
    """The refusal of references stored as blobs, which the preflight refuses in a legacy file
    (legacy.preflight.reference_refusal) and an adopted file may have had written since: the
    row such a reference means cannot be found, and its placeholder would get a blob for an
    id."""
    shown = ", ".join(shown_id(blob) for blob in blobs[:10])
    fix = blob_reference_fix(child, column, blobs, nullable=nullable)
    return CommandError(
        f"{child}.{column} holds {len(blobs)} {target} id(s) stored as a blob, not text (first: "
        f"{shown}): SQLite finds no row by a blob, so these references cannot be followed. This "
        "migration was rolled back: no row was changed (with --no-backup the file stays "
        f"migrated up to goals.0003). {fix[0].upper()}{fix[1:]}; then run migrate again.",
        returncode=Exit.BAD_KEYS,
    )


def backfill(apps, schema_editor) -> None:
    Backfill(apps, schema_editor).run()


def restore(apps, schema_editor) -> None:
    """Put back every recorded legacy value and remove every row this migration created; refuse
    when what was written since would be lost (goals_project.maintenance.backward_safety)."""
    connection = schema_editor.connection
    losses = backward_losses(connection=connection, apps=apps, undo_backfill=True, dropped=())
    if losses:
        raise CommandError(
            refusal_message(losses, backup="The backup taken before migrating is unchanged."),
            returncode=WOULD_DISCARD,
        )
    quote = connection.ops.quote_name
    repairs = quote(apps.get_model("goals", "LegacyRepair")._meta.db_table)
    fields = fields_of(apps)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT DISTINCT table_name, column_name FROM {repairs} WHERE migration = %s",
            (MIGRATION,),
        )
        columns = [row for row in cursor.fetchall() if row[1] not in (CREATED, FINGERPRINT)]
        for table, column in columns:
            old = "r.old_value"
            if connection.vendor == "postgresql":
                old = typed_text_sql(connection, fields[table][column], old)
            match = "r.table_name = %s AND r.column_name = %s AND r.migration = %s"
            cursor.execute(
                f"UPDATE {quote(table)} AS t SET {quote(column)} = (SELECT {old} FROM {repairs} r "
                f"WHERE {match} AND r.row_id = t.id) "
                f"WHERE t.id IN (SELECT r.row_id FROM {repairs} r WHERE {match})",
                (table, column, MIGRATION, table, column, MIGRATION),
            )
        cursor.execute(
            f"SELECT table_name, row_id FROM {repairs} WHERE migration = %s AND column_name = %s",
            (MIGRATION, CREATED),
        )
        for table, row_id in cursor.fetchall():
            cursor.execute(f"DELETE FROM {quote(table)} WHERE id = %s", (row_id,))
        cursor.execute(f"DELETE FROM {repairs} WHERE migration = %s", (MIGRATION,))


class Migration(migrations.Migration):
    dependencies = [
        ("goals", "0003_add_root_and_audit_columns"),
        ("practice_sessions", "0002_add_root_and_audit_columns"),
    ]

    operations = [
        migrations.RunPython(backfill, restore),
    ]
