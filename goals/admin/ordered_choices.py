"""A list of rows picked in order: one select per position, a few blank ones to add more.

Selects sharing one name are posted in page order, so the order picked is the order kept, and
a row may be picked twice (a warm-up before and after). No script needed.
"""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.html import format_html, format_html_join

BLANK_SELECTS = 3


class OrderedSelects(forms.Widget):
    """Selects named alike, one per chosen row plus BLANK_SELECTS empty ones."""

    def __init__(self, attrs=None) -> None:
        super().__init__(attrs)
        self.options: list[tuple[str, str]] = []

    def value_from_datadict(self, data, files, name) -> list[str]:
        return [value for value in data.getlist(name) if value]

    def value_omitted_from_data(self, data, files, name) -> bool:
        return name not in data

    def format_value(self, value) -> list[str]:
        return [str(pk) for pk in value or []]

    def render(self, name, value, attrs=None, renderer=None):
        chosen = self.format_value(value)
        selects = []
        for position, current in enumerate([*chosen, *[""] * BLANK_SELECTS], start=1):
            options = format_html_join(
                "",
                '<option value="{}"{}>{}</option>',
                (
                    (pk, " selected" if pk == current else "", label)
                    for pk, label in [("", "---------"), *self.options]
                ),
            )
            selects.append((position, format_html('<select name="{}">{}</select>', name, options)))
        return format_html(
            '<ol class="ordered-selects">{}</ol>',
            format_html_join("", '<li value="{}">{}</li>', selects),
        )


class OrderedChoiceField(forms.Field):
    """Ids of rows of `queryset`, in the order picked; `label_of` names a row in the selects."""

    widget = OrderedSelects

    def __init__(self, *, label_of=str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.label_of = label_of
        self._queryset = None

    @property
    def queryset(self) -> models.QuerySet | None:
        return self._queryset

    @queryset.setter
    def queryset(self, queryset: models.QuerySet) -> None:
        self._queryset = queryset
        self.rows = {str(row.pk): row for row in queryset}
        self.widget.options = [(pk, self.label_of(row)) for pk, row in self.rows.items()]

    def clean(self, value) -> list:
        value = list(value or [])
        if self.required and not value:
            raise ValidationError(self.error_messages["required"], code="required")
        unknown = [pk for pk in value if pk not in self.rows]
        if unknown:
            raise ValidationError("Select a valid choice: one of the picked rows is not available.")
        return [self.rows[pk] for pk in value]

    def has_changed(self, initial, data) -> bool:
        return [str(pk) for pk in initial or []] != list(data or [])
