"""What the project's management commands share: --database, --json, their exit statuses in
--help, and Ctrl-C said as one of them."""

from __future__ import annotations

import argparse
import contextlib
import json
from collections.abc import Iterator
from dataclasses import asdict, is_dataclass
from functools import partial

from django.core.management.base import CommandError, DjangoHelpFormatter
from django.db import DEFAULT_DB_ALIAS, connections

from goals_project.bases.exit_codes import Exit, exit_statuses_help


class _HelpFormatter(DjangoHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Django's help layout, with the exit statuses' table kept as written."""


class ExitStatusesInHelp:
    """A command mixin: `--help` ends with the exit statuses the command uses."""

    exit_statuses: tuple[Exit, ...] = ()

    def create_parser(self, prog_name, subcommand, **kwargs):
        kwargs.setdefault("epilog", exit_statuses_help(*self.exit_statuses))
        kwargs.setdefault("formatter_class", _HelpFormatter)
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.error = partial(_usage_error, parser, parser.error)
        return parser


def _usage_error(parser, argparse_error, message: str):
    """A wrong argument exits with Exit.USAGE however the command was called (argparse exits 2
    on the command line; Django's call_command would raise a CommandError exiting 1)."""
    if parser.called_from_command_line:
        argparse_error(message)
    raise CommandError(f"Error: {message}", returncode=Exit.USAGE)


def add_database_argument(parser, what: str) -> None:
    """`--database ALIAS`, one of the configured aliases (argparse refuses any other)."""
    parser.add_argument(
        "--database",
        default=DEFAULT_DB_ALIAS,
        choices=tuple(connections),
        help=f"Database alias {what} (default: %(default)s).",
    )


def add_json_argument(parser, what: str) -> None:
    """`--json`: the command's answer as one JSON document on stdout, at any verbosity."""
    parser.add_argument(
        "--json",
        action="store_true",
        help=f"Print {what} as one JSON document on stdout, for scripts (at any verbosity).",
    )


def json_document(payload) -> str:
    """The text --json prints: a dataclass as its fields; paths, times and enums as text."""
    if is_dataclass(payload) and not isinstance(payload, type):
        payload = asdict(payload)
    return json.dumps(payload, indent=2, default=str) + "\n"


@contextlib.contextmanager
def interrupted_said(what: str) -> Iterator[None]:
    """Ctrl-C inside is said as the command's refusal with exit 15 (interrupted; rolled back),
    `what` saying what is left, instead of a traceback and the shell's 130."""
    try:
        yield
    except KeyboardInterrupt as error:
        raise CommandError(f"Interrupted (Ctrl-C): {what}", returncode=Exit.INTERRUPTED) from error
