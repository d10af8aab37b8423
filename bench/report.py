"""Render the results in docs/benchmarks/*.json into docs/benchmarks.md.

    .venv/bin/python -m bench.report

Only the part between the two `results` markers is replaced: the explanations around it are
written by people and stay as they are.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from bench.common import RESULTS, ROOT

DOCUMENT = ROOT / "docs" / "benchmarks.md"
START = "<!-- results:start (written by `python -m bench.report`) -->"
END = "<!-- results:end -->"
SIZE_ORDER = {"smoke": 0, "10k": 1, "100k": 2, "1m": 3}

MIGRATE_RATIO = 1.5
BASELINE_RATIO = {"sqlite": 1.5, "postgresql": 1.2}  # migrate / the raw-SQL baseline, by backend
VERIFY_RATIO = 1.0
PEAK_MB = 200
SPEEDUP = 20
SELECTOR_RATIO = 1.5
ADMIN_RATIO = 2.0
MOVE_RATIO = 1.5
MOVE_FLAT = 1.25  # peak RSS at the largest size against the smallest measured: "flat"


def main() -> None:
    directory = Path(os.environ.get("FRACTAL_BENCH_RESULTS", RESULTS))
    document = Path(os.environ.get("FRACTAL_BENCH_DOCUMENT", DOCUMENT))
    results = [json.loads(path.read_text()) for path in sorted(directory.glob("*.json"))]
    if not document.exists():
        document.write_text(f"# Benchmarks\n\n{START}\n{END}\n")
    write_between_markers(document, START, END, render(results))


def write_between_markers(document: Path, start: str, end: str, body: str) -> None:
    """Replace what lies between the two marker lines of a document written by people."""
    text = document.read_text()
    if start not in text or end not in text:
        sys.exit(f"{document} has lost its results markers; put back:\n{start}\n{end}")
    before, rest = text.split(start, 1)
    _, after = rest.split(end, 1)
    document.write_text(f"{before}{start}\n{body}\n{end}{after}")
    print(f"wrote {document}")  # noqa: T201 - the one line this command says


def render(results: list[dict]) -> str:
    parts = [_machines(results), _migrate(results), _phases(results), _floors(results)]
    parts += [_one_pass(results)]
    parts += [_queries(results)]
    parts += [_plans(results), _admin(results), _move(results), _move_phases(results)]
    return "\n\n".join(part for part in parts if part)


def _sorted(results: list[dict], kind: str) -> list[dict]:
    return sorted(
        (result for result in results if result["kind"] == kind),
        key=lambda result: (result["backend"], SIZE_ORDER.get(result["size"], 9)),
    )


def _machines(results: list[dict]) -> str:
    seen = {}
    for result in results:
        machine = result["machine"]
        key = (machine["cpu"], machine["cores"], machine["python"], machine["sqlite"])
        seen.setdefault(key, []).append(machine["date"])
    lines = ["### Where and when", ""]
    for (cpu, cores, python, sqlite), dates in seen.items():
        lines.append(
            f"- {cpu}, {cores} cores; Python {python}, SQLite {sqlite}; "
            f"runs from {min(dates)} to {max(dates)}"
        )
    return "\n".join(lines)


def _times(ratio: float) -> str:
    """A ratio with two decimals near the targets (1.17x), one above (5.3x)."""
    return f"{ratio:.2f}x" if ratio < 2 else f"{ratio:.1f}x"


def _verdict(ok: bool, measured: str, target: str) -> str:
    return f"{measured} ({'met' if ok else 'missed'}: {target})"


def _migrate(results: list[dict]) -> str:
    rows = _sorted(results, "migrate")
    if not rows:
        return ""
    lines = [
        "### Migrate and verify_root_ids",
        "",
        "| backend | size | metric values | plan script | raw-SQL baseline | migrate "
        "| migrate / plan script | migrate / baseline | migrate peak RSS | verify_root_ids "
        "| verify / baseline |",
        "|---|---|---:|---:|---:|---:|---|---|---|---:|---|",
    ]
    for result in rows:
        ratio = result["migrate_ratio"]
        verify_ratio = result["verify_ratio"]
        big = result["size"] == "1m"  # the targets are set for the largest size
        peak = result["migrate"]["peak_rss_mb"]
        migrate = _times(ratio)
        verify = f"{verify_ratio:.2f}x"
        plan = "not measured"
        plan_seconds = "-"
        if "plan_script" in result:
            plan_ratio = result["plan_script_ratio"]
            plan = _times(plan_ratio)
            plan_seconds = f"{result['plan_script']['seconds']:.2f} s"
            if big:
                plan = _verdict(plan_ratio <= MIGRATE_RATIO, plan, f"<= {MIGRATE_RATIO}x")
        if big:
            target = BASELINE_RATIO[result["backend"]]
            migrate = _verdict(ratio <= target, migrate, f"<= {target}x")
            verify = _verdict(verify_ratio <= VERIFY_RATIO, verify, f"<= {VERIFY_RATIO}x")
        memory = _verdict(peak <= PEAK_MB, f"{peak:.0f} MB", f"<= {PEAK_MB} MB")
        lines.append(
            f"| {result['backend']} | {result['size']} | {result['rows']['metric_values']:,} "
            f"| {plan_seconds} | {result['baseline']['seconds']:.2f} s "
            f"| {result['migrate']['seconds']:.2f} s | {plan} | {migrate} | {memory} "
            f"| {result['verify']['seconds']:.2f} s | {verify} |"
        )
    lines += [
        "",
        "Medians of the runs listed in each JSON file; ratios are of those medians. The plan "
        "script, the raw-SQL baseline and migrate take turns within each run.",
        "",
        _contention(rows),
    ]
    return "\n".join(lines).rstrip()


def _contention(rows: list[dict]) -> str:
    """How busy the shared machine was: its load average as each process started, and the CPU
    seconds each process got per wall second."""
    lines = []
    for result in rows:
        busy = result.get("contention")
        if busy:
            cpu = ""
            if result["backend"] == "sqlite" and "cpu_ratios" in result:
                cpu = (
                    "; by CPU seconds, migrate / plan script "
                    f"{result['cpu_ratios']['plan_script']:.1f}x, migrate / baseline "
                    f"{result['cpu_ratios']['baseline']:.1f}x"
                )
            lines.append(
                f"- {result['backend']} {result['size']}: load average "
                f"{busy['load_before_median']} "
                f"(up to {busy['load_before_max']}) on {result['machine']['cores']} cores; "
                f"{busy['cpu_per_wall_median']} CPU seconds per wall second{cpu}"
            )
    if not lines:
        return ""
    return "How busy the machine was while measuring:\n\n" + "\n".join(lines)


def _phases(results: list[dict]) -> str:
    rows = [result for result in _sorted(results, "migrate") if result["size"] in ("100k", "1m")]
    if not rows:
        return ""
    lines = ["### Where the time goes", ""]
    for result in rows:
        total = result["migrate"]["seconds"]
        lines += [f"{result['backend']} {result['size']}, migrate (total {total:.1f} s):", ""]
        lines += _phase_table(result["migrate"]["phases"], total)
        if "work" in result["migrate"]:
            work = result["migrate"]["work"]
            lines += [
                f"{result['backend']} {result['size']}, migrate by kind of work (one more run, "
                f"instrumented by `bench/work.py`: {work['seconds']:.1f} s):",
                "",
            ]
            lines += _phase_table(work["kinds"], work["seconds"], heading="kind of work")
        for way, title in (("plan_script", "plan script"), ("baseline", "raw-SQL baseline")):
            if "phases" in result.get(way, {}):
                seconds = result[way]["seconds"]
                lines += [
                    f"{result['backend']} {result['size']}, {title} (total {seconds:.2f} s):",
                    "",
                ]
                lines += _phase_table(result[way]["phases"], seconds)
    return "\n".join(lines).rstrip()


def _floors(results: list[dict]) -> str:
    rows = _sorted(results, "floors")
    if not rows:
        return ""
    lines = [
        "### The least the guarantees cost (`bench/floors.py`)",
        "",
        "| size | the plan script | " + " | ".join(rows[0]["floors"]) + " | with the floors "
        "| / the plan script | fastest runs |",
        "|---|---:|" + "---:|" * len(rows[0]["floors"]) + "---:|---:|---:|",
    ]
    for result in rows:
        floors = " | ".join(f"{seconds:.2f}" for seconds in result["floors"].values())
        fastest = result["plan_script"]["runs"], result["runs"]
        ratio = (min(fastest[0]) + sum(map(min, fastest[1].values()))) / min(fastest[0])
        lines.append(
            f"| {result['size']} | {result['plan_script']['seconds']:.2f} | {floors} "
            f"| {result['floor_seconds']:.2f} | {_times(result['floor_ratio'])} "
            f"| {_times(ratio)} |"
        )
    lines += [
        "",
        "Seconds, the median of each over the runs (the plan script and the floors take turns); "
        "the last column is the same ratio from the fastest run of each. Each floor is the "
        "smallest statement, or for Django the start of a process, doing what one guarantee "
        "needs beyond the plan script's own work (bench/floors.py says which); their sum with "
        "the plan script is a floor under any design keeping them.",
    ]
    largest = rows[-1]
    if largest["references"]:

        def listed(seconds_by_reference: dict[str, float]) -> str:
            shown = [f"{name} {s:.2f}" for name, s in seconds_by_reference.items() if s >= 0.01]
            rest = len(seconds_by_reference) - len(shown)
            return ", ".join(shown + ([f"{rest} more under 0.01 s"] if rest else []))

        lines += [
            "",
            f"The dangling references at {largest['size']}, by reference: "
            f"{listed(largest['references'])}; and those the plan script's UPDATEs follow, "
            f"found by its own lookups and not counted: {listed(largest['on_the_roots_path'])}.",
        ]
    return "\n".join(lines)


def _one_pass(results: list[dict]) -> str:
    rows = _sorted(results, "one_pass")
    if not rows:
        return ""
    ways = (
        ("in_place", "in place"),
        ("written_once", "written once"),
        ("written_once_in_key_order", "written once, in key order"),
    )
    lines = [
        "### metric_values in place or written once (`bench/one_pass.py`)",
        "",
        "| size | metric values | way | seconds | rows | definition | indexes | commit "
        "| / in place |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for result in rows:
        for way, title in ways:
            if way not in result:
                continue
            phases = result[way]["phases"]
            ratio = result.get(f"{way}_ratio")
            lines.append(
                f"| {result['size']} | {result['rows']:,} | {title} "
                f"| {result[way]['seconds']:.2f} | {phases['columns and rows']:.2f} "
                f"| {phases.get('definition', 0.0):.2f} | {phases['indexes']:.2f} "
                f"| {phases['commit']:.2f} | {_times(ratio) if ratio else '-'} |"
            )
    lines += [
        "",
        "Seconds of the median run of each way (the ways take turns), and its phases: the rows "
        "written with their roots and stamps (in place: the columns added and every row "
        "updated; written once: the table created and filled), the final definition written "
        "and checked in place, the four index builds, the commit with its fsync.",
    ]
    return "\n".join(lines)


def _phase_table(phases: dict[str, float], total: float, heading: str = "phase") -> list[str]:
    lines = [f"| {heading} | seconds | share |", "|---|---:|---:|"]
    small = 0.0
    for name, seconds in sorted(phases.items(), key=lambda item: -item[1]):
        if seconds >= total / 100:
            lines.append(f"| {name} | {seconds:.2f} | {seconds / total:.0%} |")
        else:
            small += seconds
    if small >= 0.005:
        lines.append(f"| the others, under 1% each | {small:.2f} | {small / total:.0%} |")
    lines.append("")
    return lines


def _queries(results: list[dict]) -> str:
    rows = _sorted(results, "queries")
    if not rows:
        return ""
    lines = [
        "### Analytics queries for one fractal out of 100",
        "",
        "| backend | size | query | legacy | selector (ORM) | its SQL alone | hand SQL "
        "| legacy / selector | selector / hand SQL | rows |",
        "|---|---|---|---:|---:|---:|---:|---|---|---:|",
    ]
    for result in rows:
        big = result["size"] == "1m"  # the targets are set for the largest size
        for name, query in result["queries"].items():
            speedup = query["speedup_vs_legacy"]
            ratio = query["selector_vs_hand_sql"]
            faster = f"{speedup:.0f}x" if speedup >= 10 else f"{speedup:.1f}x"
            close = f"{ratio:.2f}x"
            if big:
                faster = _verdict(speedup >= SPEEDUP, faster, f">= {SPEEDUP}x")
                close = _verdict(ratio <= SELECTOR_RATIO, close, f"<= {SELECTOR_RATIO}x")
            lines.append(
                f"| {result['backend']} | {result['size']} | {name} "
                f"| {_ms(query['legacy'])} | {_ms(query['selector'])} "
                f"| {_ms(query['selector_sql'])} | {_ms(query['hand_sql'])} "
                f"| {faster} | {close} (SQL alone {query['selector_sql_vs_hand_sql']:.2f}x) "
                f"| {query['selector']['rows']:,} |"
            )
    return "\n".join(lines)


def _ms(way: dict) -> str:
    return f"{way['seconds'] * 1000:.2f} ms"


def _plans(results: list[dict]) -> str:
    rows = [result for result in _sorted(results, "queries") if result["size"] == "1m"]
    if not rows:
        return ""
    lines = ["### Query plans at 1m", ""]
    for result in rows:
        for name, query in result["queries"].items():
            for way in ("selector", "hand_sql", "legacy"):
                indexes = ", ".join(query[way]["indexes"]) or "none"
                lines += [
                    f"{result['backend']}, {name}, {way.replace('_', ' ')} (indexes: {indexes}):",
                    "",
                    "```",
                    *query[way]["plan"],
                    "```",
                    "",
                ]
    return "\n".join(lines).rstrip()


def _admin(results: list[dict]) -> str:
    rows = _sorted(results, "admin")
    if not rows:
        return ""
    lines = [
        "### Admin pages",
        "",
        "| backend | page | goals | queries | median | goals | queries | median "
        "| same queries | time ratio |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for result in rows:
        small, large = result["sizes"]
        for page, verdict in result["pages"].items():
            at_small = result["sizes"][small]
            at_large = result["sizes"][large]
            ratio = verdict["time_ratio"]
            lines.append(
                f"| {result['backend']} | {page} | {at_small['goals']:,} "
                f"| {at_small['pages'][page]['queries']} | {_ms(at_small['pages'][page])} "
                f"| {at_large['goals']:,} | {at_large['pages'][page]['queries']} "
                f"| {_ms(at_large['pages'][page])} "
                f"| {'met' if verdict['same_queries'] else 'missed'} "
                f"| {_verdict(ratio <= ADMIN_RATIO, f'{ratio:.2f}x', f'<= {ADMIN_RATIO}x')} |"
            )
    return "\n".join(lines)


def _move(results: list[dict]) -> str:
    rows = _sorted(results, "move")
    if not rows:
        return ""
    lines = [
        "### move_to_postgres against bare COPY",
        "",
        "| size | metric values | move_to_postgres | bare COPY | schema (migrations) "
        "| move / COPY | move / (schema + COPY) | move peak RSS |",
        "|---|---:|---:|---:|---:|---|---:|---|",
    ]
    smallest = rows[0]["move_peak_rss_mb"]
    for result in rows:
        ratio = result["ratio_to_copy"]
        speed = f"{ratio:.2f}x"
        peak = result["move_peak_rss_mb"]
        memory = f"{peak:.0f} MB"
        if result["size"] == "1m":  # the targets are set for the largest size
            speed = _verdict(ratio <= MOVE_RATIO, speed, f"<= {MOVE_RATIO}x")
            if result is not rows[0]:
                memory = _verdict(
                    peak <= smallest * MOVE_FLAT,
                    f"{memory}, {peak / smallest:.2f}x the {rows[0]['size']} run's",
                    f"<= {MOVE_FLAT}x, flat",
                )
        lines.append(
            f"| {result['size']} | {result['rows']['metric_values']:,} "
            f"| {result['move_seconds']:.1f} s | {result['copy_seconds']:.1f} s "
            f"| {result['schema_seconds']:.1f} s | {speed} "
            f"| {result['ratio_to_schema_and_copy']:.2f}x | {memory} |"
        )
    lines += ["", "Medians of the runs listed in each JSON file; ratios are of those medians."]
    return "\n".join(lines)


def _move_phases(results: list[dict]) -> str:
    rows = [result for result in _sorted(results, "move") if result["size"] == "1m"]
    if not rows or "move_phases" not in rows[0]:
        return ""
    result = rows[0]
    phases = result["move_phases"]
    total = result["move_seconds"]
    copying = sum(seconds for name, seconds in phases.items() if name.startswith("copy "))
    lines = [
        "### Where the move time goes at 1m",
        "",
        f"Total {total:.1f} s; bare COPY of the same rows {result['copy_seconds']:.1f} s.",
        "",
        "| step | seconds | share |",
        "|---|---:|---:|",
        f"| copy (every table) | {copying:.2f} | {copying / total:.0%} |",
    ]
    for name, seconds in sorted(phases.items(), key=lambda item: -item[1]):
        if seconds >= 0.1:
            shown = f"&nbsp;&nbsp;{name}" if name.startswith("copy ") else name
            lines.append(f"| {shown} | {seconds:.2f} | {seconds / total:.0%} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
