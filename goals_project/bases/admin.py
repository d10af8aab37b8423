"""Owner isolation and soft delete for every ModelAdmin, in one place each.

Scoping `get_queryset` alone leaves holes: foreign-key choices, inline formsets, list-filter
sidebars, autocomplete and the raw-id widget's label all read related tables directly. The
owner mixin routes each of them through the related model's own admin scope.
"""

from __future__ import annotations

from django import forms
from django.apps import apps as django_apps
from django.contrib import admin, messages
from django.contrib.admin import helpers, widgets
from django.contrib.admin.actions import delete_selected
from django.contrib.admin.models import CHANGE, DELETION, LogEntry
from django.contrib.admin.options import InlineModelAdmin
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models, transaction
from django.db.models import Q
from django.forms.models import BaseInlineFormSet, ModelChoiceField
from django.http import Http404
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, reverse
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from goals_project.bases.models import IS_OWN_ROOT, RootedModel
from goals_project.bases.services import (
    CascadeResult,
    cascade_preview,
    row_delete,
    row_purge,
    row_restore,
)


class DeletedListFilter(admin.SimpleListFilter):
    """Live rows by default; all rows, or deleted rows only (the recycle bin's view) on demand."""

    title = _("deleted")
    parameter_name = "deleted"

    def lookups(self, request, model_admin):
        return [("all", _("All")), ("only", _("Deleted only"))]

    def choices(self, changelist):
        yield {
            "selected": self.value() is None,
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "display": _("Live"),
        }
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == str(lookup),
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request, queryset):
        if self.value() == "all":
            return queryset
        if self.value() == "only":
            return queryset.filter(deleted_at__isnull=False)
        return queryset.filter(deleted_at__isnull=True)


class UntouchedFieldsKeptForm(forms.ModelForm):
    """A field the person did not change keeps the value read from the database, exactly.

    A form gives back what its inputs can hold: a legacy NULL text column comes back as '', a
    time with its microseconds cut (no admin input shows them). Saved as given, pressing Save on
    an untouched page rewrote legacy rows, while the history said "No fields changed." Each
    unchanged field's cleaned value is the row's own before the instance is built from it, so
    the model's checks see what will be saved. Relations are left: an unchanged one is the same
    row, and reading it again would cost a query per field."""

    def _post_clean(self) -> None:
        if not self.instance._state.adding:
            changed = set(self.changed_data)
            for field in self.instance._meta.concrete_fields:
                name = field.name
                if name in self.cleaned_data and name not in changed and not field.is_relation:
                    self.cleaned_data[name] = getattr(self.instance, field.attname)
        super()._post_clean()


class LiveChoicesForm(UntouchedFieldsKeptForm):
    """Foreign-key choices are live rows, plus the row the field already points to.

    Legacy rows often point to deleted rows (a metric value of a deleted definition); they stay
    editable without offering deleted rows as new choices.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            if getattr(field, "live_or_current", False):
                current = self.initial.get(name)
                live = Q(deleted_at__isnull=True)
                field.queryset = field.queryset.filter(live | Q(pk=current) if current else live)

    def _post_clean(self) -> None:
        super()._post_clean()
        # A reference a person sets names a row of the row's own fractal (RootedModel).
        instance = self.instance
        if isinstance(instance, RootedModel) and self.changed_data:
            names = [name for name in self.changed_data if name not in self._errors]
            if instance.root_from in names:  # the row moves: what it keeps must be there too
                names += [
                    field.name
                    for field in instance._meta.concrete_fields
                    if field.is_relation and field.name not in names
                ]
            for name, message in instance.references_into_other_fractals(names).items():
                self.add_error(name if name in self.fields else None, message)

    def validate_unique(self) -> None:
        """Also the names unique among live rows (a UniqueConstraint whose condition is
        `deleted_at IS NULL`). Django leaves out a constraint whose condition names a field the
        form does not show, and no form shows `deleted_at`: a repeated name reached the database,
        whose refusal was an error page. The row's own `deleted_at` decides here."""
        super().validate_unique()
        exclusions = self._get_validation_exclusions()
        for model, constraints in self.instance.get_constraints():
            for constraint in constraints:
                if not is_live_name(constraint):
                    continue
                # The row holds every field of the name's scope, shown or not (a read-only
                # fractal); one still unset (None) cannot repeat a name.
                exclude = exclusions - {"deleted_at", *constraint.fields}
                try:
                    constraint.validate(model, self.instance, exclude=exclude)
                except ValidationError:
                    scope = constraint.fields[0]
                    within = (
                        "fractal" if scope == "root" else model._meta.get_field(scope).verbose_name
                    )
                    self._update_errors(
                        ValidationError(
                            {
                                "name": f"{model._meta.verbose_name.capitalize()} “"
                                f"{self.instance.name}” already exists in this {within}: "
                                "choose another name (a deleted one's name may be reused)."
                            }
                        )
                    )

    def _update_errors(self, errors: ValidationError) -> None:
        # The model's clean() may name a field this form does not show (owner is read-only for
        # staff; the fractal form has no parent): such errors are the form's own, not a crash.
        if hasattr(errors, "error_dict"):
            shown: dict[str, list[ValidationError]] = {}
            for name, field_errors in errors.error_dict.items():
                key = name if name == NON_FIELD_ERRORS or name in self.fields else NON_FIELD_ERRORS
                shown.setdefault(key, []).extend(field_errors)
            errors = ValidationError(shown)
        super()._update_errors(errors)


class ScopedRawIdWidget(widgets.ForeignKeyRawIdWidget):
    """The raw-id widget, naming the chosen row only when the user may see it."""

    def __init__(self, rel, admin_site, *, queryset, attrs=None, using=None) -> None:
        super().__init__(rel, admin_site, attrs=attrs, using=using)
        self.queryset = queryset

    def label_and_url_for_value(self, value):
        key = self.rel.get_related_field().name
        try:
            obj = self.queryset.using(self.db).get(**{key: value})
        except (ValueError, ValidationError, self.rel.model.DoesNotExist):
            return "", ""
        try:
            url = reverse(
                f"{self.admin_site.name}:{obj._meta.app_label}_{obj._meta.model_name}_change",
                args=(obj.pk,),
            )
        except NoReverseMatch:
            url = ""
        return Truncator(obj).words(14), url


class PreloadedAutocompleteSelect(widgets.AutocompleteSelect):
    """Autocomplete whose selected labels may come from one query for a whole inline formset.

    Django's widget looks up each form's selected row on its own: one query per inline row.
    """

    labels: dict[str, str] | None = None

    def optgroups(self, name, value, attr=None):
        selected = [str(v) for v in value if str(v) not in self.choices.field.empty_values]
        if self.labels is None or not all(v in self.labels for v in selected):
            return super().optgroups(name, value, attr)
        options = []
        if not self.is_required:
            options.append(self.create_option(name, "", "", False, 0))
        for v in selected:
            options.append(self.create_option(name, v, self.labels[v], set(selected), len(options)))
        return [(None, options, 0)]


class OwnedInlineFormSet(BaseInlineFormSet):
    """An inline formset whose rows' hidden ids must be rows of the formset itself.

    Django checks them against every row of the model, so another owner's id passed where an
    unknown id was refused, and the different answer told that the row exists.
    """

    def add_fields(self, form, index) -> None:
        super().add_fields(form, index)
        field = form.fields.get(self._pk_field.name)
        if isinstance(field, ModelChoiceField) and self._pk_field is not self.fk:
            field.queryset = self.get_queryset()

    def full_clean(self) -> None:
        """Rows whose hidden id is no longer one of the formset's (deleted, or moved elsewhere,
        since the page was opened) are said above the list: the admin no longer shows such a
        row, nor its hidden field's error, and the page said only "Please correct the errors
        below", at every save."""
        super().full_clean()
        key = getattr(self, "_pk_field", None)  # set as the forms are made
        if key is None or key is self.fk:
            return
        gone = sum(key.name in form.errors for form in self.forms)
        if gone:
            self._non_form_errors.append(
                f"{gone} row(s) of this list were deleted, or moved elsewhere, since the page was "
                "opened: reload the page to see the list as it is now (nothing here was saved)."
            )

    def validate_unique(self) -> None:
        """Also names unique among live rows, between the formset's own rows: each form checks
        its row against the database only (LiveChoicesForm.validate_unique), and Django's formset
        check leaves out a constraint with a condition, so two new rows of one name reached the
        database, whose refusal was an error page."""
        super().validate_unique()
        deleted = self.deleted_forms if self.can_delete else []
        forms_kept = [  # as Django's check takes them, without the empty extra rows
            form
            for form in self.forms
            if form.is_valid()
            and form not in deleted
            and (form.has_changed() or form.instance.pk is not None)
        ]
        for constraint in self.model._meta.constraints:
            if not (is_live_name(constraint) and constraint.fields):
                continue
            attnames = [self.model._meta.get_field(name).attname for name in constraint.fields]
            seen: dict[tuple, forms.ModelForm] = {}
            for form in forms_kept:
                row = form.instance
                if getattr(row, "deleted_at", None) is not None:
                    continue
                key = tuple(getattr(row, attname) for attname in attnames)
                if None in key:
                    continue
                if key in seen:
                    shown = constraint.fields[-1]
                    form.add_error(
                        shown if shown in form.fields else None,
                        f"Another row here has this {shown} too: give each its own.",
                    )
                else:
                    seen[key] = form


class OwnedAdminMixin:
    """Staff who are not superusers see and touch only rows of fractals they own.

    `owner_path` leads from the model to the owning user (through the fractal's root goal);
    `fractal_path` to the root goal, for the fractal filter. Rows of other owners answer 404.
    """

    owner_path = "root__owner"
    fractal_path = "root"
    # Deleted rows stay reachable (the deleted filter, restore); inlines show live rows only.
    include_deleted = True
    form = LiveChoicesForm
    formset = OwnedInlineFormSet  # for inlines

    @admin.display(description="fractal", ordering="root__name")
    def fractal(self, obj) -> str:
        """The fractal's name, for list columns (select the `root` relation with the rows)."""
        return obj.root.name

    def scope(self, request, queryset: models.QuerySet) -> models.QuerySet:
        if request.user.is_superuser:
            return queryset
        return queryset.filter(**{self.owner_path: request.user})

    def scope_fractals(self, request, fractals: models.QuerySet) -> models.QuerySet:
        return fractals if request.user.is_superuser else fractals.filter(owner=request.user)

    def get_queryset(self, request):
        manager = self.model._default_manager
        if self.include_deleted and hasattr(self.model, "all_objects"):
            manager = self.model.all_objects
        queryset = manager.get_queryset()
        goal_type = getattr(self.model, "goal_type", None)
        if goal_type is not None:
            queryset = queryset.filter(type=goal_type)
        ordering = self.get_ordering(request)
        if ordering:
            queryset = queryset.order_by(*ordering)
        if isinstance(self, InlineModelAdmin) and not self.has_view_or_change_permission(request):
            queryset = queryset.none()
        return self.scope(request, queryset)

    def related_scope(self, request, model) -> models.QuerySet | None:
        """Every row of `model` the user may choose (deleted ones included), or None if free."""
        related_admin = self.admin_site._registry.get(model)
        if related_admin is None and model._meta.proxy:
            related_admin = self.admin_site._registry.get(model._meta.concrete_model)
        if not isinstance(related_admin, OwnedAdminMixin):
            return None
        return related_admin.scope(request, model._base_manager.all())

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        queryset = self.related_scope(request, db_field.remote_field.model)
        if db_field.name in self.get_autocomplete_fields(request) and "widget" not in kwargs:
            kwargs["widget"] = PreloadedAutocompleteSelect(
                db_field, self.admin_site, using=kwargs.get("using")
            )
        if queryset is not None and db_field.name == "root":
            # A row's fractal is chosen among fractals: the goals that are their own root.
            queryset = queryset.filter(IS_OWN_ROOT)
        if queryset is not None and "queryset" not in kwargs:
            kwargs["queryset"] = queryset
            if db_field.name in self.raw_id_fields and "widget" not in kwargs:
                kwargs["widget"] = ScopedRawIdWidget(
                    db_field.remote_field,
                    self.admin_site,
                    queryset=queryset,
                    using=kwargs.get("using"),
                )
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if field is not None and hasattr(db_field.remote_field.model, "deleted_objects"):
            field.live_or_current = True
        return field

    def preloaded_labels(self, request, obj) -> dict[str, dict[str, str]]:
        """Per autocomplete field of an inline, the labels of the rows its forms point to."""
        return {}

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        for name, labels in self.preloaded_labels(request, obj).items():
            widget = formset.form.base_fields[name].widget
            getattr(widget, "widget", widget).labels = labels
        return formset

    def get_search_results(self, request, queryset, search_term):
        # Autocomplete offers live rows only; it is always a search of this admin.
        match = getattr(request, "resolver_match", None)
        autocomplete = match is not None and match.url_name == "autocomplete"
        if autocomplete and hasattr(self.model, "deleted_objects"):
            queryset = queryset.filter(deleted_at__isnull=True)
        if autocomplete and request.GET.get("field_name") == "root":
            queryset = queryset.filter(IS_OWN_ROOT)
        return super().get_search_results(request, queryset, search_term)

    def get_list_filter(self, request):
        filters = []
        for entry in super().get_list_filter(request):
            field = None
            if isinstance(entry, str) and "__" not in entry:
                field = self.model._meta.get_field(entry)
            if field is not None and field.is_relation:
                # Only values present in the scoped rows: no other owner's names in the sidebar.
                entry = (entry, admin.RelatedOnlyFieldListFilter)
            filters.append(entry)
        if hasattr(self.model, "deleted_objects") and not isinstance(self, InlineModelAdmin):
            filters.append(DeletedListFilter)
        return filters

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            # The same answer whether the row does not exist or belongs to someone else.
            raise Http404(f"No {self.opts.verbose_name} with id “{object_id}”.")
        return obj

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser and any(
            field.name == "owner" for field in self.model._meta.fields
        ):
            fields.append("owner")
        return fields


class SoftDeleteAdminMixin:
    """Deleting stamps deleted_at through the services; deleted rows are read-only until restored.

    The restore and purge actions confirm first (like delete_selected) and act on deleted rows
    only; purging is for superusers. Admins of goals replace the services with the cascading ones.
    """

    actions = ["delete_selected", "restore_selected", "purge_selected"]
    confirmation_template = "admin/bases/confirm_soft_delete_action.html"

    def delete_service(self, obj) -> CascadeResult:
        return row_delete(row=obj)

    def restore_service(self, obj) -> CascadeResult:
        return row_restore(row=obj)

    def purge_service(self, obj) -> CascadeResult:
        return row_purge(row=obj)

    def preview(self, obj, action: str) -> dict[str, int]:
        """Rows per kind that `action` on `obj` would touch, for the confirmation pages: the
        action's own service, run and rolled back (goals.services.cascade_preview)."""
        return _named(cascade_preview(self.service_for(action), obj))

    def service_for(self, action: str):
        """The service behind `action` ("delete", "restore" or "purge")."""
        return {
            "delete": self.delete_service,
            "restore": self.restore_service,
            "purge": self.purge_service,
        }[action]

    def previews(self, objs: list, action: str) -> list[tuple[object, dict | None, str | None]]:
        """For each of `objs`, in the order `action` takes them (acting_order): the rows per kind
        it would touch, or None where an earlier one takes it along, or its refusal. The
        services run in turn and are rolled back together, so each row counts only what the
        rows before it leave, as the action itself will."""
        service = self.service_for(action)
        found = []
        db = self.model._base_manager.db
        with transaction.atomic(using=db):
            for obj, current in self._rows_in_turn(objs, action):
                if current is None:
                    found.append((obj, None, None))
                    continue
                try:
                    with transaction.atomic(using=db):
                        found.append((obj, _named(service(current)), None))
                except ValidationError as error:
                    found.append((obj, None, " ".join(error.messages)))
            transaction.set_rollback(True, using=db)
        return found

    def delete_model(self, request, obj) -> None:
        self.delete_service(obj)

    def delete_queryset(self, request, queryset) -> None:
        live = list(queryset.filter(deleted_at__isnull=True))
        for _row, current in self._rows_in_turn(live, "delete"):
            if current is not None:
                self.delete_service(current)

    def acting_order(self, rows: list) -> list:
        """The selected rows in the order an action takes them: a row before the rows its own
        cascade takes (a goal before its descendants), so that they go, come back and are
        purged with it, as one deletion. Here as selected; GoalServicesMixin orders goals."""
        return rows

    def _rows_in_turn(self, rows: list, action: str):
        """Each of `rows` in acting_order with the row as read again just before its turn, or
        None where an earlier one's cascade already deleted, restored or purged it (it was done
        along): live for a deletion, deleted for a restore or a purge."""
        manager = self.model._base_manager
        for row in self.acting_order(rows):
            current = manager.filter(pk=row.pk).first()
            done = current is None or (current.deleted_at is None) != (action == "delete")
            yield row, None if done else current

    def get_deleted_objects(self, objs, request):
        """The cascade preview replaces Django's collector, which would refuse PROTECT links."""
        lines, totals = [], {}
        for obj, counts, refusal in self.previews(list(objs), "delete"):
            if counts is None:
                reason = refusal or (ALREADY_DELETED if obj.deleted_at is not None else ALONG)
                lines.append(f"{self.opts.verbose_name}: {obj} ({reason})")
                continue
            lines.append(f"{self.opts.verbose_name}: {obj} ({_summary(counts)})")
            for name, counted in counts.items():
                totals[name] = totals.get(name, 0) + counted
        return lines, totals, set(), []

    def has_change_permission(self, request, obj=None):
        if obj is not None and getattr(obj, "deleted_at", None) is not None:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and getattr(obj, "deleted_at", None) is not None:
            return False
        return super().has_delete_permission(request, obj)

    def has_restore_permission(self, request) -> bool:
        return super().has_change_permission(request)

    def has_purge_permission(self, request) -> bool:
        return request.user.is_superuser

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and getattr(obj, "deleted_at", None) is not None:
            messages.warning(
                request,
                f"This {self.opts.verbose_name} was deleted on {obj.deleted_at:%Y-%m-%d %H:%M}; "
                "it is read-only. Restore it from the list (filter “deleted only”) to edit it.",
            )
        return super().render_change_form(request, context, add, change, form_url, obj)

    @admin.action(description=delete_selected.short_description, permissions=["delete"])
    def delete_selected(self, request, queryset):
        """Django's delete_selected (its confirmation page, then the deletion), saying what the
        deletion did: a row of the selection deleted before (the list filtered to all rows) is
        left as it was and counted apart, not counted as deleted."""
        if not queryset.filter(deleted_at__isnull=True).exists():
            self.message_user(
                request,
                "None of the selected rows is live: nothing to delete.",
                messages.WARNING,
            )
            return None
        if not request.POST.get("post"):
            return delete_selected(self, request, queryset)
        selected = list(queryset)
        live = [row for row in selected if row.deleted_at is None]
        self.soft_delete_act(request, live, "delete")
        already = len(selected) - len(live)
        if already:
            self.message_user(
                request,
                ngettext(
                    "%(count)d of those selected was deleted already: left as it was.",
                    "%(count)d of those selected were deleted already: left as they were.",
                    already,
                )
                % {"count": already},
                messages.WARNING,
            )
        return None

    @admin.action(description="Restore selected %(verbose_name_plural)s", permissions=["restore"])
    def restore_selected(self, request, queryset):
        return self._confirm_then(request, queryset, "restore")

    @admin.action(
        description="Purge selected %(verbose_name_plural)s for good", permissions=["purge"]
    )
    def purge_selected(self, request, queryset):
        return self._confirm_then(request, queryset, "purge")

    def _confirm_then(self, request, queryset, action: str):
        """First POST: what `action` would touch; second POST (post=yes): do it, row by row."""
        deleted = list(queryset.filter(deleted_at__isnull=False))
        if not deleted:
            self.message_user(
                request,
                f"None of the selected rows is deleted: nothing to {action}.",
                messages.WARNING,
            )
            return None
        if request.POST.get("post") != "yes":
            return self._render_confirmation(request, deleted, action)
        self.soft_delete_act(request, deleted, action)
        return None

    def soft_delete_act(self, request, deleted: list, action: str) -> list:
        """Delete each live row, or restore or purge each deleted row, through the services, log
        what was done in each row's history and say so; a refusal is a warning. Returns the rows
        done."""
        service = self.service_for(action)
        done, refused = [], []
        for _row, obj in self._rows_in_turn(deleted, action):
            if obj is None:
                continue
            try:
                service(obj)
            except ValidationError as error:
                refused.append(" ".join(error.messages))
            else:
                done.append(obj)
        if done:
            LogEntry.objects.log_actions(
                user_id=request.user.pk,
                queryset=done,
                action_flag=CHANGE if action == "restore" else DELETION,
                change_message={
                    "delete": "",  # as Django's own deletions
                    "restore": [{"changed": {"fields": ["deleted_at"]}}],
                    "purge": "Purged",
                }[action],
            )
            verb = {"delete": "Deleted", "restore": "Restored", "purge": "Purged"}[action]
            along = len(deleted) - len(done) - len(refused)
            self.message_user(
                request,
                ngettext(
                    "%(verb)s %(count)d %(name)s.",
                    "%(verb)s %(count)d %(names)s.",
                    len(done),
                )
                % {
                    "verb": verb,
                    "count": len(done),
                    "name": self.opts.verbose_name,
                    "names": self.opts.verbose_name_plural,
                }
                + (f" {along} more of those selected went with them." if along else ""),
                messages.SUCCESS,
            )
        for reason in refused:
            self.message_user(request, reason, messages.WARNING)
        return done

    def _render_confirmation(self, request, objects, action: str):
        previews = []
        for obj, counts, refusal in self.previews(objects, action):
            if refusal is not None:
                # Said now, not after a confirmation that would promise rows.
                self.message_user(request, refusal, messages.WARNING)
            else:
                previews.append((obj, ALONG if counts is None else _summary(counts)))
        if not previews:
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": f"Are you sure you want to {action} these {self.opts.verbose_name_plural}?",
            "action": action,
            "action_name": f"{action}_selected",
            "previews": previews,
            "opts": self.opts,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "media": self.media,
        }
        return TemplateResponse(request, self.confirmation_template, context)


class SoftDeleteInlineMixin:
    """An inline whose rows' DELETE is the soft delete of the row's own admin (its
    delete_service), as on the row's own page. Django's inline checks a DELETE as a hard delete
    would be, and refused a metric definition that has metric values (protected from a hard
    delete); a soft-deleted metric keeps its values, as legacy data already has them."""

    def get_formset(self, request, obj=None, **kwargs):
        # Both classes are made for this call (inlineformset_factory, and the admin's form
        # checking a DELETE), so they are set here rather than subclassed, which would build
        # the form's fields again.
        formset = super().get_formset(request, obj, **kwargs)
        row_admin = self.admin_site._registry[self.model]

        def hand_clean_DELETE(form) -> None:
            """Nothing is removed: no related row is protected from a soft delete."""

        def delete_existing(formset, obj, commit=True) -> None:
            if commit:
                row_admin.delete_service(obj)

        formset.form.hand_clean_DELETE = hand_clean_DELETE
        formset.delete_existing = delete_existing
        return formset


def is_live_name(constraint) -> bool:
    """Whether `constraint` makes names unique among live rows (goals.models.unique_live_name)."""
    return isinstance(constraint, models.UniqueConstraint) and constraint.condition == Q(
        deleted_at__isnull=True
    )


# What a confirmation page says of a selected row that an earlier one's cascade takes along.
ALONG = "with a selected row above, whose cascade takes it"
# ... and of a selected row deleted before (a list filtered to all rows).
ALREADY_DELETED = "deleted already: left as it is"


def _named(result: CascadeResult) -> dict[str, int]:
    """A service's counts by the models' plural names, without the kinds it did not touch."""
    return {
        str(django_apps.get_model(label)._meta.verbose_name_plural): counted
        for label, counted in result.counts.items()
        if counted
    }


def _summary(counts: dict[str, int]) -> str:
    return ", ".join(f"{counted} {name}" for name, counted in counts.items())
