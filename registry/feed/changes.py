"""The change feed: an outbox of every change to persons, employers, enrollments, bills, payments and cases.

**Writing.** A model joins the feed by declaring ``change_feed_type = "person"``; ``change_feed_connect`` (run in
``RegistryConfig.ready``) connects post_save/post_delete of every such model, so each save or delete writes one
``ChangeEvent`` in the same transaction as the change: it commits or rolls back with it. Code that writes rows in
bulk (raw ``INSERT … SELECT``, ``bulk_create``, ``QuerySet.update``) bypasses the signals and must call
``change_events_record`` with a queryset of the rows it wrote, in the same transaction.

**Reading.** Events are read in (txid, id) order, where txid is the id of the writing transaction. On PostgreSQL only
events below the horizon (``feed_horizon``: the oldest transaction of this database still running) are returned:
every transaction below that horizon has finished, so no event can later appear at a position before one already returned. A transaction that started early
and commits late is held back until it commits and is then returned after the cursor, never skipped; a cursor (the
last position read) therefore sees every committed change exactly once. Timestamps cannot give this (a late commit
carries an early time). On SQLite writers serialize, txid is 0 and the id is commit order. A long-open transaction
only delays the feed, it never loses anything.
"""

from __future__ import annotations

import base64
import binascii
import functools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.core.exceptions import ObjectDoesNotExist
from django.db import connection, models
from django.db.models import F, Q, TextField
from django.db.models.functions import Cast
from django.db.models.signals import post_delete, post_save
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from registry.jurisdiction import user_office, user_sees_everything
from registry.models import ChangeEvent, ChangeOp, Office

MAX_POSITION_ID = 2**63 - 1
MAX_LIMIT = 1000
_UID_PLACEHOLDER = "00000000-0000-0000-0000-00000000c0de"


# ---------------------------------------------------------------- which models are in the feed


@functools.cache
def feed_models() -> dict[str, type[models.Model]]:
    """change type → model, for every concrete model that declares ``change_feed_type``."""
    found: dict[str, type[models.Model]] = {}
    for model in apps.get_models():
        change_type = getattr(model, "change_feed_type", None)
        if change_type and not model._meta.proxy:
            if change_type in found:
                raise ValueError(f"change_feed_type {change_type!r} is declared by two models")
            found[change_type] = model
    return found


def feed_types() -> list[str]:
    return sorted(feed_models())


def feed_types_for(user: Any) -> list[str]:
    """The types whose records the user may read (the model's view permission): the feed never tells a
    system about records it could not fetch."""
    return [
        t
        for t, model in sorted(feed_models().items())
        if user.has_perm(f"{model._meta.app_label}.view_{model._meta.model_name}")
    ]


def _has_uid(model: type[models.Model]) -> bool:
    return any(f.name == "uid" for f in model._meta.concrete_fields)


@functools.cache
def _url_parts(change_type: str) -> tuple[str, str] | None:
    """(prefix, suffix) of the record's API URL around its id; None when the type has no detail route."""
    model = feed_models()[change_type]
    kwarg = "uid" if _has_uid(model) else "pk"
    try:
        url = reverse(f"{change_type}-detail", kwargs={kwarg: _UID_PLACEHOLDER})
    except NoReverseMatch:
        return None
    prefix, _sep, suffix = url.partition(_UID_PLACEHOLDER)
    return prefix, suffix


def _payload(change_type: str, object_id: str) -> dict[str, str]:
    parts = _url_parts(change_type)
    return {"id": object_id, "url": f"{parts[0]}{object_id}{parts[1]}" if parts else ""}


# ---------------------------------------------------------------- writing


def _office_of(instance: models.Model) -> Office | None:
    obj: Any = instance
    for part in type(instance).jurisdiction_office_field.split("__"):
        try:
            obj = getattr(obj, part)
        except ObjectDoesNotExist:
            return None
        if obj is None:
            return None
    return obj


def change_event_write(*, instance: models.Model, op: str) -> ChangeEvent:
    """One event for one saved or deleted record (called by the signals; in the caller's transaction)."""
    change_type = type(instance).change_feed_type
    object_id = str(instance.uid if _has_uid(type(instance)) else instance.pk)
    office = _office_of(instance)
    # No full_clean: every value comes from the saved record, and the feed must never refuse a change.
    return ChangeEvent.objects.create(
        change_type=change_type,
        object_id=object_id,
        op=op,
        office=office,
        office_path=office.path if office else "",
        occurred_at=timezone.now(),
        payload=_payload(change_type, object_id),
    )


def _on_save(sender, instance, created, raw=False, **kwargs) -> None:
    if raw:
        return  # fixture loading: related rows may not exist yet
    change_event_write(instance=instance, op=ChangeOp.CREATED if created else ChangeOp.UPDATED)


def _on_delete(sender, instance, **kwargs) -> None:
    change_event_write(instance=instance, op=ChangeOp.DELETED)


def change_feed_connect() -> None:
    """Connect the signals of every model with ``change_feed_type`` (proxies too: they send their own signals)."""
    for model in apps.get_models():
        if getattr(model, "change_feed_type", None):
            uid = f"change_feed_{model._meta.label_lower}"
            post_save.connect(_on_save, sender=model, dispatch_uid=f"{uid}_save", weak=False)
            post_delete.connect(_on_delete, sender=model, dispatch_uid=f"{uid}_delete", weak=False)


def change_events_record(*, change_type: str, queryset: models.QuerySet, op: str = "created") -> int:
    """One event per row of ``queryset``, for code that writes rows in bulk (no signals). Call it in the
    transaction that wrote the rows. PostgreSQL: a single ``INSERT … SELECT``; SQLite: bulk_create.
    Returns the number of events written."""
    model = queryset.model
    if feed_models().get(change_type) is not model:
        raise ValueError(f"{model._meta.label} is not the model of change type {change_type!r}")
    if op not in ChangeOp.values:
        raise ValueError(f"unknown change op {op!r}")
    office_lookup = model.jurisdiction_office_field
    id_field = "uid" if _has_uid(model) else "pk"
    now = timezone.now()
    if connection.vendor != "postgresql":
        events = [
            ChangeEvent(
                change_type=change_type,
                object_id=str(object_id),
                op=op,
                office_id=office_id,
                office_path=path or "",
                occurred_at=now,
                payload=_payload(change_type, str(object_id)),
            )
            for object_id, office_id, path in queryset.order_by("pk").values_list(
                id_field, office_lookup, f"{office_lookup}__path"
            )
        ]
        ChangeEvent.objects.bulk_create(events, batch_size=1000)
        return len(events)
    source = (
        queryset.order_by()
        .annotate(
            cf_pk=F("pk"),
            cf_obj=Cast(id_field, output_field=TextField()),
            cf_office=F(office_lookup),
            cf_path=F(f"{office_lookup}__path"),
        )
        .values("cf_pk", "cf_obj", "cf_office", "cf_path")
    )
    source_sql, source_params = source.query.sql_with_params()
    parts = _url_parts(change_type)
    url_sql, url_params = ("%s || src.cf_obj || %s", list(parts)) if parts else ("''", [])
    table = connection.ops.quote_name(ChangeEvent._meta.db_table)
    with connection.cursor() as cur:
        # The txid is written here as the table's trigger would write it, so that a bulk writer may run with
        # row triggers off (session_replication_role = replica); ids follow the source's primary-key order.
        cur.execute(
            f"""
            INSERT INTO {table} (txid, change_type, object_id, op, office_id, office_path, occurred_at, payload)
            SELECT pg_current_xact_id()::text::bigint, %s, src.cf_obj, %s, src.cf_office, COALESCE(src.cf_path, ''), %s,
                   jsonb_build_object('id', src.cf_obj, 'url', {url_sql})
            FROM ({source_sql}) AS src
            ORDER BY src.cf_pk
            """,
            [change_type, op, now, *url_params, *source_params],
        )
        return cur.rowcount


# ---------------------------------------------------------------- reading


@dataclass(frozen=True, order=True)
class FeedPosition:
    """A position in the feed: (txid, id) of the last event read. Opaque to consumers (base64)."""

    txid: int
    id: int

    def encode(self) -> str:
        return base64.urlsafe_b64encode(f"1:{self.txid}:{self.id}".encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, raw: str) -> FeedPosition:
        """Raises ValueError for anything that is not a cursor this feed handed out."""
        try:
            text = base64.b64decode(raw + "=" * (-len(raw) % 4), altchars=b"-_", validate=True).decode("ascii")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise ValueError(raw) from None
        version, _sep, rest = text.partition(":")
        txid, _sep, event_id = rest.partition(":")
        if version != "1" or not txid.isdigit() or not event_id.isdigit():
            raise ValueError(raw)
        position = cls(int(txid), int(event_id))
        if position.txid > MAX_POSITION_ID or position.id > MAX_POSITION_ID:
            raise ValueError(raw)
        return position


@dataclass
class FeedPage:
    events: list[ChangeEvent]
    next: FeedPosition | None
    has_more: bool


_HORIZON_SQL = """
SELECT COALESCE(
    (SELECT min(x::text::bigint) FROM pg_snapshot_xip(s) AS x
     WHERE x::text::bigint % 4294967296 IN (
         SELECT backend_xid::text::bigint FROM pg_stat_activity
         WHERE datname = current_database() AND backend_xid IS NOT NULL)),
    pg_snapshot_xmax(s)::text::bigint)
FROM pg_current_snapshot() AS s
"""


def feed_horizon() -> int | None:
    """PostgreSQL: the oldest transaction id still running in this database (else the next id to be given);
    every event below it is final. None on SQLite.

    Transactions of other databases on the server cannot write this outbox, so they do not hold the feed back
    (``pg_snapshot_xmin`` alone would wait for them too). A transaction of this database still running when
    the snapshot is taken is in both the snapshot's in-progress list and pg_stat_activity (which shows 32-bit
    xids, hence the comparison modulo 2^32); one that has finished in between is visible to the next
    statement, which reads the events.
    """
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cur:
        # pg_stat_activity is cached per transaction: a stale copy could miss a transaction begun since.
        cur.execute("SELECT pg_stat_clear_snapshot()")
        cur.execute(_HORIZON_SQL)
        return cur.fetchone()[0]


def feed_head() -> FeedPosition:
    """The position after every event that is final now: where a new subscriber starts."""
    horizon = feed_horizon()
    if horizon is not None:
        return FeedPosition(horizon - 1, MAX_POSITION_ID)
    last = ChangeEvent.objects.order_by("-id").values_list("id", flat=True).first()
    return FeedPosition(0, last or 0)


def change_feed_read(
    *, user: Any, since: FeedPosition | None = None, types: Iterable[str] | None = None, limit: int = 100
) -> FeedPage:
    """The events after ``since`` within the user's jurisdiction, of ``types`` (default: all the user may
    read; types the user may not read are dropped), in feed order, at most ``limit``."""
    allowed = set(feed_types_for(user))
    wanted = allowed if types is None else allowed & set(types)
    limit = max(1, min(int(limit), MAX_LIMIT))
    if user_sees_everything(user):
        prefix = ""
    else:
        office = user_office(user)
        if office is None or not wanted:
            return FeedPage(events=[], next=since, has_more=False)
        prefix = office.path
    horizon = feed_horizon()
    qs = ChangeEvent.objects.filter(change_type__in=sorted(wanted)).select_related("office")
    if prefix:
        qs = qs.filter(office_path__startswith=prefix)
    if horizon is not None:
        qs = qs.filter(txid__lt=horizon)
    if since is not None:
        # (txid, id) > since, written so the (txid, id) index gives a range scan.
        qs = qs.filter(txid__gte=since.txid).filter(Q(txid__gt=since.txid) | Q(id__gt=since.id))
    events = list(qs.order_by("txid", "id")[: limit + 1])
    has_more = len(events) > limit
    events = events[:limit]
    position = FeedPosition(events[-1].txid, events[-1].id) if events else since
    if not has_more and horizon is not None:
        # Everything below the horizon has been read: skip past it, so the next read does not scan again
        # the events of other districts or types.
        head = FeedPosition(horizon - 1, MAX_POSITION_ID)
        position = head if position is None or head > position else position
    return FeedPage(events=events, next=position, has_more=has_more)


def change_event_as_dict(event: ChangeEvent) -> dict[str, Any]:
    """What the feed and the webhooks say about one event."""
    return {
        "id": event.id,
        "cursor": FeedPosition(event.txid, event.id).encode(),
        "type": event.change_type,
        "op": event.op,
        "object_id": event.object_id,
        "url": event.payload.get("url", ""),
        "office": event.office.code if event.office_id else None,
        "occurred_at": timezone.localtime(event.occurred_at).isoformat(),
    }
