"""Webhooks: the change feed pushed to the systems that registered a URL.

A Celery beat task (``registry.webhooks_dispatch``) first enqueues, per subscription, the events after the
subscription's cursor with the feed's own selector (same jurisdiction, types and commit-order rule), one
``WebhookDelivery`` per event (unique per subscription and event, so enqueueing twice changes nothing); then it
sends the due deliveries. A delivery is claimed in a short transaction (``SELECT … FOR UPDATE SKIP LOCKED``) that
counts the attempt and leases it, so no HTTP call runs inside a transaction and two workers never send the same
delivery at the same time. 2xx is delivered; anything else is retried with exponential backoff and parked after
``WEBHOOK_MAX_ATTEMPTS`` attempts, for an administrator to replay.

Each request is ``POST`` JSON signed with the subscription's secret:
``X-TZSI-Signature: sha256=<hex HMAC-SHA256 of "<X-TZSI-Timestamp>.<body>">``; receivers deduplicate on
``X-TZSI-Event-Id`` (a delivery whose response was lost is sent again).
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from registry.audit import audit_mark, audited_delete, audited_save, recorded_user
from registry.feed.changes import (
    FeedPosition,
    change_event_as_dict,
    change_feed_read,
    feed_head,
    feed_types,
    feed_types_for,
)
from registry.feed.targets import pinned_post, webhook_target
from registry.jurisdiction import office_in_jurisdiction, scope_to_user
from registry.models import DeliveryStatus, SecurityEventKind, SystemAccount, WebhookDelivery, WebhookSubscription
from registry.security.log import security_event_record
from registry.task_queue import task_enqueue_on_commit


def _setting(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


def max_attempts() -> int:
    return _setting("WEBHOOK_MAX_ATTEMPTS", 8)


def retry_delay(attempts: int) -> datetime.timedelta:
    """Exponential backoff after the n-th failed attempt: base, 2×base, 4×base, … capped."""
    base = _setting("WEBHOOK_RETRY_BASE_SECONDS", 60)
    cap = _setting("WEBHOOK_RETRY_MAX_SECONDS", 6 * 3600)
    return datetime.timedelta(seconds=min(base * 2 ** max(attempts - 1, 0), cap))


def webhook_signature(*, secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


# ---------------------------------------------------------------- subscriptions


def _clean_types(account: SystemAccount, change_types: Iterable[str] | None) -> list[str]:
    change_types = sorted(set(change_types or []))
    unknown = [t for t in change_types if t not in feed_types()]
    if unknown:
        raise ValidationError(
            {
                "change_types": _("未知的变更类型：%(types)s。可选：%(known)s。")
                % {"types": "、".join(unknown), "known": "、".join(feed_types())}
            }
        )
    denied = [t for t in change_types if t not in feed_types_for(account.user)]
    if denied:
        raise ValidationError(
            {"change_types": _("该系统账户无权查看以下类型的记录：%(types)s。") % {"types": "、".join(denied)}}
        )
    return change_types


def _clean_url(url: str) -> str:
    webhook_target(url)  # https, and no address inside the network (registry.feed.targets)
    return url.strip()


@transaction.atomic
def webhook_subscription_create(
    *,
    account: SystemAccount,
    acting_user: Any,
    url: str,
    change_types: Iterable[str] | None = None,
    since: FeedPosition | None = None,
) -> tuple[WebhookSubscription, str]:
    """Register a webhook. Deliveries start after ``since`` (a feed cursor) or, by default, with the changes
    committed from now on. Returns the subscription and its signing secret, which is shown only this once."""
    if not office_in_jurisdiction(acting_user, account.office):
        raise ValidationError({"account": _("该系统账户不在您的辖区内。")})
    start = since or feed_head()
    secret = secrets.token_urlsafe(32)
    subscription = WebhookSubscription(
        account=account,
        url=_clean_url(url),
        secret=secret,
        change_types=_clean_types(account, change_types),
        cursor_txid=start.txid,
        cursor_id=start.id,
        created_by=recorded_user(acting_user),
    )
    audited_save(subscription, acting_user=acting_user)
    _secret_logged(subscription, acting_user, "created")
    return subscription, secret


@transaction.atomic
def webhook_secret_rotate(*, subscription: WebhookSubscription, acting_user: Any) -> str:
    """A new signing secret (returned once); deliveries from now on are signed with it."""
    if not office_in_jurisdiction(acting_user, subscription.account.office):
        raise ValidationError({"account": _("该系统账户不在您的辖区内。")})
    subscription.secret = secrets.token_urlsafe(32)
    # A history row records who rotated (the secret itself is excluded from the history table).
    audit_mark(subscription, acting_user=acting_user, reason=_("轮换签名密钥"))
    subscription.save(update_fields=["secret"])
    _secret_logged(subscription, acting_user, "rotated")
    return subscription.secret


def _secret_logged(subscription: WebhookSubscription, acting_user: Any, action: str) -> None:

    security_event_record(
        SecurityEventKind.WEBHOOK_SECRET_ISSUED,
        user=subscription.account.user,
        actor=acting_user,
        detail={"subscription": str(subscription.uid), "account": subscription.account.code, "action": action},
    )


@transaction.atomic
def webhook_subscription_delete(*, subscription: WebhookSubscription, acting_user: Any) -> None:
    """Remove a webhook and its pending deliveries (the history keeps who removed it)."""
    if not office_in_jurisdiction(acting_user, subscription.account.office):
        raise ValidationError({"account": _("该系统账户不在您的辖区内。")})
    audited_delete(subscription, acting_user=acting_user)


# ---------------------------------------------------------------- enqueueing


def _enqueue_batch(subscription_id: int, batch: int) -> tuple[int, bool]:
    with transaction.atomic():
        subscription = (
            WebhookSubscription.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("account__user__office")
            .filter(pk=subscription_id, is_active=True, account__is_active=True)
            .first()
        )
        if subscription is None:
            return 0, False  # gone, inactive, or another worker is enqueueing it right now
        since = FeedPosition(subscription.cursor_txid, subscription.cursor_id)
        page = change_feed_read(
            user=subscription.account.user, since=since, types=subscription.change_types or None, limit=batch
        )
        now = timezone.now()
        WebhookDelivery.objects.bulk_create(
            [WebhookDelivery(subscription=subscription, change=event, next_attempt_at=now) for event in page.events],
            ignore_conflicts=True,
        )
        if page.next is not None and page.next != since:
            # update(), not save(): moving the cursor is not a change of the subscription worth a history row.
            WebhookSubscription.objects.filter(pk=subscription.pk).update(
                cursor_txid=page.next.txid, cursor_id=page.next.id
            )
        return len(page.events), page.has_more


def webhook_deliveries_enqueue(*, batch: int = 500, max_batches: int = 20) -> int:
    """Enqueue the new events of every active subscription (at most ``batch × max_batches`` each per run)."""
    total = 0
    ids = WebhookSubscription.objects.filter(is_active=True, account__is_active=True).values_list("pk", flat=True)
    for subscription_id in list(ids):
        for _round in range(max_batches):
            added, more = _enqueue_batch(subscription_id, batch)
            total += added
            if not more:
                break
    return total


# ---------------------------------------------------------------- sending


def _http_post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> tuple[int | None, str]:
    """POST one delivery; the target is checked again first (registry.feed.targets.pinned_post)."""
    return pinned_post(url, body, headers, timeout)


def _claim(now: datetime.datetime) -> WebhookDelivery | None:
    """Take one due delivery: count the attempt and lease it past the HTTP timeout, then commit at once."""
    lease = datetime.timedelta(seconds=max(60, 3 * _setting("WEBHOOK_TIMEOUT_SECONDS", 10)))
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("subscription", "change__office")
            .filter(
                status=DeliveryStatus.PENDING,
                next_attempt_at__lte=now,
                subscription__is_active=True,
                subscription__account__is_active=True,
            )
            .order_by("next_attempt_at", "id")
            .first()
        )
        if delivery is None:
            return None
        delivery.attempts += 1
        delivery.next_attempt_at = now + lease
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            attempts=delivery.attempts, next_attempt_at=delivery.next_attempt_at
        )
    return delivery


def webhook_delivery_request(delivery: WebhookDelivery) -> tuple[bytes, dict[str, str]]:
    """The signed request body and headers of one delivery."""
    subscription = delivery.subscription
    body = json.dumps(
        {**change_event_as_dict(delivery.change), "subscription": str(subscription.uid)},
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode()
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "taizhou-si-webhooks/1",
        "X-TZSI-Event-Id": str(delivery.change_id),
        "X-TZSI-Delivery-Id": str(delivery.pk),
        "X-TZSI-Timestamp": timestamp,
        "X-TZSI-Signature": webhook_signature(secret=subscription.secret, timestamp=timestamp, body=body),
    }
    return body, headers


def _record(delivery: WebhookDelivery, status_code: int | None, error: str, now: datetime.datetime) -> str:
    pending = WebhookDelivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.PENDING)
    if status_code is not None and 200 <= status_code < 300:
        pending.update(status=DeliveryStatus.DELIVERED, delivered_at=now, last_status_code=status_code, last_error="")
        return "delivered"
    parked = delivery.attempts >= max_attempts()
    # Only the worker that made this attempt records its failure (attempts unchanged since the claim).
    pending.filter(attempts=delivery.attempts).update(
        status=DeliveryStatus.PARKED if parked else DeliveryStatus.PENDING,
        next_attempt_at=now + retry_delay(delivery.attempts),
        last_status_code=status_code,
        last_error=(error or _("无响应"))[:500],
    )
    return "parked" if parked else "failed"


def webhook_deliveries_send(
    *, now: datetime.datetime | None = None, max_deliveries: int = 500, budget_seconds: float | None = None
) -> dict[str, int]:
    """Send the due deliveries one by one until none is due, ``max_deliveries`` were sent or the time budget
    is used up. ``now`` fixes the clock for scheduling (tests); by default it is the current time."""
    timeout = _setting("WEBHOOK_TIMEOUT_SECONDS", 10)
    budget = budget_seconds if budget_seconds is not None else _setting("WEBHOOK_SEND_BUDGET_SECONDS", 45)
    started = time.monotonic()
    counts = {"delivered": 0, "failed": 0, "parked": 0}
    for _round in range(max_deliveries):
        if time.monotonic() - started > budget:
            break
        delivery = _claim(now or timezone.now())
        if delivery is None:
            break
        body, headers = webhook_delivery_request(delivery)
        status_code, error = _http_post(delivery.subscription.url, body, headers, timeout)
        counts[_record(delivery, status_code, error, now or timezone.now())] += 1
    return counts


def webhooks_dispatch(*, now: datetime.datetime | None = None) -> dict[str, int]:
    """One run of the beat task: enqueue new events, then send what is due."""
    enqueued = webhook_deliveries_enqueue()
    return {"enqueued": enqueued, **webhook_deliveries_send(now=now)}


@transaction.atomic
def webhook_deliveries_replay(*, deliveries: models.QuerySet, acting_user: Any) -> int:
    """Put parked deliveries (within the administrator's jurisdiction) back in the queue, due now, with a fresh
    count of attempts; they are sent right after the commit."""
    now = timezone.now()
    replayed = (
        scope_to_user(deliveries, acting_user)
        .filter(status=DeliveryStatus.PARKED)
        .update(
            status=DeliveryStatus.PENDING,
            attempts=0,
            next_attempt_at=now,
            replayed_at=now,
            replayed_by=recorded_user(acting_user),
        )
    )
    if replayed:
        task_enqueue_on_commit("registry.webhooks_dispatch")
    return replayed
