"""What the project's commands print at each verbosity, and on which stream.

- `-v0`: nothing but errors (a `CommandError`, which Django writes to stderr), and `--json`
  output, which a script asked for.
- `-v1` (the default): the result, and warnings about it, on stdout.
- `-v2`: also progress, a line per step or table, on stderr, so that stdout carries only the
  result: `--json` output stays parseable whatever the verbosity, and progress still shows on a
  terminal when stdout goes to a file.

Long work takes callbacks (`progress(table, done, total)`, or `step(message)`) and prints
nothing; a command passes its reporter's. Migrations, which Django runs without a way to pass
one, ask `current_reporter()` for the one the running `migrate` set.
"""

from __future__ import annotations

import contextlib
import contextvars
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from django.core.management.base import OutputWrapper
from django.core.management.color import Style, color_style

Step = Callable[[str], None]

_current: contextvars.ContextVar[Reporter | None] = contextvars.ContextVar(
    "fractal_reporter", default=None
)


@dataclass
class Reporter:
    """One command run's output: the result on stdout from -v1, progress on stderr from -v2."""

    stdout: OutputWrapper
    stderr: OutputWrapper
    verbosity: int = 1
    style: Style = field(default_factory=color_style)
    # Django's migrate leaves "  Applying <migration>..." open until the migration is done;
    # the first line written meanwhile starts on a line of its own.
    line_open: bool = False

    @classmethod
    def of(cls, command, options: dict) -> Reporter:
        """The reporter of a management command, for the verbosity it was given."""
        return cls(
            stdout=command.stdout,
            stderr=command.stderr,
            verbosity=options["verbosity"],
            style=command.style,
        )

    def result(self, message: str) -> None:
        """A line of the result (-v1 and up, stdout)."""
        if self.verbosity >= 1:
            self._write(self.stdout, message)

    def warning(self, message: str) -> None:
        """A warning about the result (-v1 and up, stdout)."""
        if self.verbosity >= 1:
            self._write(self.stdout, self.style.WARNING(message))

    def step(self, message: str) -> None:
        """A step of the work (-v2 and up, stderr)."""
        if self.verbosity >= 2:
            self._write(self.stderr, f"  {message}")

    def rows(self, table: str, done: int, total: int) -> None:
        """Rows of a table done so far, as a `progress(table, done, total)` callback."""
        self.step(f"{table}: {done}/{total} rows")

    def _write(self, stream: OutputWrapper, message: str) -> None:
        if self.line_open:
            self.line_open = False
            stream.write("")
        stream.write(message)


def silent(message: str) -> None:
    """A step callback that reports nothing (the default of the services that take one)."""


def current_reporter() -> Reporter:
    """The reporter of the running `migrate`; outside one (a test running migrations itself),
    one at -v1 on the process's stdout and stderr."""
    reporter = _current.get()
    if reporter is None:
        reporter = Reporter(stdout=OutputWrapper(sys.stdout), stderr=OutputWrapper(sys.stderr))
    return reporter


@contextlib.contextmanager
def reporting(reporter: Reporter) -> Iterator[Reporter]:
    """Make `reporter` the one `current_reporter()` returns while inside."""
    token = _current.set(reporter)
    try:
        yield reporter
    finally:
        _current.reset(token)
