"""Write the crash harness's results (var/reliability/*.json) into docs/reliability.md.

    .venv/bin/python -m tests.reliability.report

Only the part between the two `results` markers is replaced; the text around it is written by
people.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from bench.report import write_between_markers
from tests.reliability.harness import RESULTS, ROOT

DOCUMENT = ROOT / "docs" / "reliability.md"
START = "<!-- results:start (written by `python -m tests.reliability.report`) -->"
END = "<!-- results:end -->"
ORDER = {"migrate": 0, "backup_db": 1, "restore_db": 2}


def main() -> None:
    document = Path(os.environ.get("FRACTAL_RELIABILITY_DOCUMENT", DOCUMENT))
    results = [json.loads(path.read_text()) for path in sorted(RESULTS.glob("*.json"))]
    results.sort(key=lambda result: (ORDER.get(result["command"], 9), result["backend"]))
    write_between_markers(document, START, END, render(results))


def render(results: list[dict]) -> str:
    lines = [
        "| command | backend | steps in a run | points killed | recovered and checked | failures |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for result in results:
        points = result["points"]
        killed = sum(point["killed"] for point in points)
        ok = sum(point["ok"] for point in points)
        lines.append(
            f"| {result['command']} | {result['backend']} | {result['steps']} | {killed} "
            f"| {ok} | {len(points) - ok} |"
        )
    for result in results:
        lines += [
            "",
            f"#### {result['command']} on {result['backend']}",
            "",
            "| step | phase | killed just before | checks after the rerun |",
            "|---:|---|---|---|",
        ]
        for point in result["points"]:
            checks = ", ".join(
                f"{name}: {'ok' if passed else 'FAILED'}"
                for name, passed in point["checks"].items()
            )
            label = point["label"].replace("|", "\\|")
            lines.append(
                f"| {point['step']} | {point['phase']} | `{label}` "
                f"| {checks or point['problem'] or 'not killed'} |"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
