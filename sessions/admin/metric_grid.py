"""An activity's metric values as a grid of inputs inside its row on the session page.

Each metric of the activity (and each split, for an activity with splits) is a line: the values
recorded for it, editable (emptied to delete), and a blank input to add one (always for an
activity with sets, otherwise only while none is recorded). Inputs are named after the cells the
server built, never after ids read from the request, so only the activity's own values, metrics
and splits can be touched.

The grid honours the user's permissions on metric values: without the permission to add one
there is no blank input, without the permission to change them the values are text, and
emptying a value without the permission to delete it is the grid's error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from django.utils.html import format_html, format_html_join

from goals.models import MetricDefinition, SplitDefinition
from goals_project.bases.admin import LiveChoicesForm
from sessions.models import ActivityInstance, MetricValue
from sessions.services import MetricEntry, activity_metric_values_record


@dataclass
class Cell:
    """One input: an existing value (`value`) or a new value of `metric` (and `split`)."""

    key: str
    initial: str
    value: MetricValue | None = None
    metric: MetricDefinition | None = None
    split: SplitDefinition | None = None


@dataclass
class Line:
    """A metric (and split) with its cells."""

    label: str
    cells: list[Cell] = field(default_factory=list)


def metric_grid_prefetches() -> list[Prefetch]:
    """What an activity instance's grid reads, fetched for a whole formset at once."""
    return [
        Prefetch(
            "metric_values",
            queryset=MetricValue.objects.select_related(
                "metric_definition", "split_definition"
            ).order_by("created_at", "id"),
        ),
        Prefetch(
            "activity_definition__metric_definitions",
            queryset=MetricDefinition.objects.filter(is_active=True).order_by("sort_order", "name"),
        ),
        Prefetch(
            "activity_definition__split_definitions",
            queryset=SplitDefinition.objects.order_by("order", "name"),
        ),
    ]


def _number(value: float) -> str:
    return f"{value:g}"


def metric_lines(instance: ActivityInstance, *, may_add: bool = True) -> list[Line]:
    """The grid of a saved instance, from its prefetched values, metrics and splits; without
    the blank inputs unless `may_add`."""
    activity = instance.activity_definition
    splits = list(activity.split_definitions.all()) if activity.has_splits else []
    lines: dict[tuple[str, str | None], Line] = {}
    for metric in activity.metric_definitions.all():
        for split in splits or [None]:
            label = f"{metric.name} ({metric.unit})" + (f" · {split.name}" if split else "")
            lines[(metric.pk, split.pk if split else None)] = Line(label)
    for value in instance.metric_values.all():
        key = (value.metric_definition_id, value.split_definition_id)
        if key not in lines:  # a value of a metric since deleted or deactivated
            metric = value.metric_definition
            split = f" · {value.split_definition.name}" if value.split_definition else ""
            lines[key] = Line(f"{metric.name} ({metric.unit}){split}")
        cell = Cell(key=f"v-{value.pk}", initial=_number(value.value), value=value)
        lines[key].cells.append(cell)
    metrics = {metric.pk: metric for metric in activity.metric_definitions.all()}
    split_rows = {split.pk: split for split in splits}
    for (metric_id, split_id), line in lines.items():
        if may_add and metric_id in metrics and (activity.has_sets or not line.cells):
            line.cells.append(
                Cell(
                    key=f"n-{metric_id}-{split_id or ''}",
                    initial="",
                    metric=metrics[metric_id],
                    split=split_rows.get(split_id),
                )
            )
    return list(lines.values())


class MetricGridWidget(forms.Widget):
    """Renders the lines' inputs (recorded values as text unless `editable`); reads back one
    text per input."""

    def __init__(self, attrs=None) -> None:
        super().__init__(attrs)
        self.lines: list[Line] = []
        self.note = ""
        self.editable = True

    def cells(self) -> list[Cell]:
        """The cells that are inputs."""
        return [cell for line in self.lines for cell in line.cells if self._is_input(cell)]

    def _is_input(self, cell: Cell) -> bool:
        return self.editable or cell.value is None

    def value_from_datadict(self, data, files, name) -> dict[str, str] | None:
        # None when the form came without the grid: the values stay as they are.
        if self.value_omitted_from_data(data, files, name):
            return None
        return {cell.key: data.get(f"{name}-{cell.key}", "") for cell in self.cells()}

    def value_omitted_from_data(self, data, files, name) -> bool:
        return not any(f"{name}-{cell.key}" in data for cell in self.cells())

    def render(self, name, value, attrs=None, renderer=None):
        if not self.lines:
            return format_html('<span class="metric-grid-note">{}</span>', self.note or "-")
        value = value or {}
        rows = []
        for line in self.lines:
            shown = [
                format_html(
                    '<input type="text" inputmode="decimal" size="6" name="{}-{}" value="{}"'
                    ' aria-label="{}"{}>',
                    name,
                    cell.key,
                    value.get(cell.key, cell.initial),
                    line.label,
                    format_html(' placeholder="{}"', "add") if cell.value is None else "",
                )
                if self._is_input(cell)
                else cell.initial
                for cell in line.cells
            ]
            rows.append((line.label, format_html_join(" ", "{}", ((one,) for one in shown)) or "-"))
        return _grid_table(rows)


def _grid_table(rows: list[tuple[str, str]]) -> str:
    """One table row per line: its label, then its inputs or values."""
    return format_html(
        '<table class="metric-grid"><tbody>{}</tbody></table>',
        format_html_join("", '<tr><th scope="row">{}</th><td>{}</td></tr>', rows),
    )


def metric_values_html(instance: ActivityInstance) -> str:
    """The grid of a saved instance as text, for a person who may not change the activity."""
    rows = []
    for line in metric_lines(instance):
        recorded = [cell.initial for cell in line.cells if cell.value is not None]
        rows.append((line.label, ", ".join(recorded) or "-"))
    return _grid_table(rows) if rows else "No metrics defined for this activity."


class MetricGridField(forms.Field):
    """The typed texts of a grid, cleaned to numbers (None for an empty input)."""

    widget = MetricGridWidget

    def __init__(self, **kwargs) -> None:
        super().__init__(required=False, **kwargs)

    def clean(self, value):
        if value is None:
            return {}
        cleaned, errors = {}, []
        inputs = {cell.key for cell in self.widget.cells()}
        for line in self.widget.lines:
            for cell in line.cells:
                if cell.key not in inputs:
                    continue
                text = (value.get(cell.key) or "").strip().replace(",", ".")
                if not text:
                    cleaned[cell.key] = None
                    continue
                try:
                    number = float(text)
                except ValueError:
                    number = math.nan
                if not math.isfinite(number):
                    errors.append(f"{line.label}: “{value.get(cell.key)}” is not a number.")
                cleaned[cell.key] = number
        if errors:
            raise ValidationError(errors)
        return cleaned

    def has_changed(self, initial, data) -> bool:
        if data is None:
            return False
        try:
            typed = self.clean(data)
        except ValidationError:
            return True
        return any(
            typed.get(cell.key) != (float(cell.initial) if cell.initial else None)
            for cell in self.widget.cells()
        )


class ActivityInstanceForm(LiveChoicesForm):
    """An activity row of the session page, with its metric values in place."""

    metric_values = MetricGridField(label="metric values")
    # What the user may do with metric values ("add", "change", "delete"), set by the admin
    # for the request (ActivityInstanceInline.get_formset); nothing unless set.
    metric_value_permissions: frozenset[str] = frozenset()

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        widget = self.fields["metric_values"].widget
        may = self.metric_value_permissions
        widget.editable = "change" in may
        if self.instance._state.adding:
            widget.note = "Save to enter values." if "add" in may else "-"
        else:
            widget.lines = metric_lines(self.instance, may_add="add" in may)
            widget.note = "No metrics defined for this activity."

    def clean(self) -> dict:
        cleaned = super().clean()
        if "activity_definition" in self.changed_data and "metric_values" in self.changed_data:
            self.add_error(
                "metric_values",
                "These values were typed for the former activity. Save the new activity first, "
                "then enter its values.",
            )
        typed = cleaned.get("metric_values") or {}
        if "delete" not in self.metric_value_permissions:
            emptied = [
                line.label
                for line in self.fields["metric_values"].widget.lines
                for cell in line.cells
                if cell.value is not None and cell.key in typed and typed[cell.key] is None
            ]
            if emptied:
                self.add_error(
                    "metric_values",
                    f"{', '.join(emptied)}: emptying a value deletes it, and you may not delete "
                    "metric values. Enter the value again.",
                )
        return cleaned

    def save(self, commit=True):
        instance = super().save(commit=commit)
        if commit:
            self._record_metric_values()
        else:
            save_m2m = self.save_m2m

            def save_both() -> None:
                save_m2m()
                self._record_metric_values()

            self.save_m2m = save_both
        return instance

    def _record_metric_values(self) -> None:
        typed = self.cleaned_data.get("metric_values") or {}
        entries = []
        for cell in self.fields["metric_values"].widget.cells():
            if cell.key not in typed:
                continue
            value = typed[cell.key]
            if cell.value is not None:
                if value != cell.value.value:
                    entries.append(MetricEntry(value=value, value_id=cell.value.pk))
            elif value is not None:
                entries.append(
                    MetricEntry(
                        value=value,
                        metric_definition_id=cell.metric.pk,
                        split_definition_id=cell.split.pk if cell.split else None,
                    )
                )
        if entries:
            activity_metric_values_record(instance=self.instance, entries=entries)
