"""Field helpers shared by the legacy tables."""

from __future__ import annotations

import uuid

from django.db import models


def new_legacy_id() -> str:
    """A new primary key in the legacy format: a uuid4 as a 36-character string."""
    return str(uuid.uuid4())


def legacy_id_field() -> models.CharField:
    """The legacy primary key: uuid4 text, generated when not given."""
    return models.CharField(primary_key=True, max_length=36, default=new_legacy_id, editable=False)
