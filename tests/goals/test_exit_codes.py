"""One exit-status table for the project: each number one meaning, in every command's --help and
in the README."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.core.management import get_commands, load_command_class
from django.core.management.base import CommandError

from goals_project.bases.exit_codes import Exit

README = Path(__file__).resolve().parents[2] / "README.md"
PROJECT_COMMANDS = sorted(name for name, app in get_commands().items() if app == "goals")


def _command(name: str):
    return load_command_class("goals", name)


def test_the_readme_table_is_the_code_table():
    text = README.read_text(encoding="utf-8")
    section = text.split("### Exit statuses", 1)[1].split("\n## ", 1)[0]
    rows = dict(re.findall(r"^\| (\d+) \| (.+?) \|", section, flags=re.MULTILINE))
    assert {int(code): meaning for code, meaning in rows.items()} == {
        int(code): code.meaning for code in Exit
    }


@pytest.mark.parametrize("name", PROJECT_COMMANDS)
def test_every_command_lists_its_exit_statuses_in_its_help(name):
    command = _command(name)
    assert command.exit_statuses, f"{name} names no exit status"
    assert all(isinstance(code, Exit) for code in command.exit_statuses)
    text = command.create_parser("manage.py", name).format_help()
    listed = re.findall(r"^  (\d+)\s", text.split("exit statuses:", 1)[1], flags=re.MULTILINE)
    assert [int(code) for code in listed] == [0, *sorted(command.exit_statuses)]


@pytest.mark.parametrize(
    "name",
    [
        name
        for name in PROJECT_COMMANDS
        if any(
            "--database" in action.option_strings
            for action in _command(name).create_parser("manage.py", name)._actions
        )
    ],
)
def test_an_unknown_database_alias_is_a_usage_error_naming_the_known_ones(name):
    parser = _command(name).create_parser("manage.py", name)
    with pytest.raises(CommandError, match=r"invalid choice: 'nowhere' .*'default'") as raised:
        parser.parse_args(["--database", "nowhere"])
    assert raised.value.returncode == Exit.USAGE
