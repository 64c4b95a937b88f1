"""The one Metrics of every function, and the notification metrics by channel and priority.

**Metrics.** Each notification metric is a CloudWatch metric with the dimensions {service, channel,
priority} (service is Powertools' default dimension, POWERTOOLS_SERVICE_NAME), in the namespace
POWERTOOLS_METRICS_NAMESPACE. Powertools' `Metrics` holds one dimension set per flush and is not
thread-safe, so values are gathered here instead, from any thread, under a lock (`channel_metrics`),
and written by `flush()` from the handler thread at the end of the invocation: one EMF document per
(channel, priority), through Powertools' `EphemeralMetrics` (whose documents carry many values of a
metric, up to the 100 that EMF allows; more are split across documents). Counts are summed before
they are written; a timing (`VendorLatency`) keeps one value per message, so CloudWatch can give its
percentiles. With POWERTOOLS_METRICS_DISABLED=true nothing is gathered and nothing is written.
"""

from __future__ import annotations

import threading
import warnings
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

from notifier.models.channels import Channel, Priority

NOTIFICATIONS_PUBLISHED = "NotificationsPublished"
NOTIFICATIONS_SCHEDULED = "NotificationsScheduled"
NOTIFICATIONS_DIGESTED = "NotificationsDigested"
NOTIFICATIONS_SENT = "NotificationsSent"
NOTIFICATIONS_FAILED = "NotificationsFailed"
NOTIFICATIONS_SUPPRESSED = "NotificationsSuppressed"
NOTIFICATIONS_DEAD_LETTERED = "NotificationsDeadLettered"
NOTIFICATIONS_DEFERRED = "NotificationsDeferred"
TRANSIENT_FAILURES = "TransientFailures"
DUPLICATES_SKIPPED = "DuplicatesSkipped"
CONCURRENT_ATTEMPTS_DEFERRED = "ConcurrentAttemptsDeferred"
PUSH_TOKENS_REMOVED = "PushTokensRemoved"
VENDOR_LATENCY = "VendorLatency"
# Provider failover (a channel with a fallback provider)
PROVIDER_FAILOVERS = "ProviderFailovers"
PROVIDER_FAILURES = "ProviderFailures"
BREAKER_OPENED = "ProviderBreakerOpened"
BREAKER_CLOSED = "ProviderBreakerClosed"
# From the vendors' receipts (the webhooks function) and the app's push receipts
NOTIFICATIONS_DELIVERED = "NotificationsDelivered"
NOTIFICATIONS_BOUNCED = "NotificationsBounced"
COMPLAINTS = "Complaints"
UNSUBSCRIBES = "Unsubscribes"

EMF_MAX_VALUES = 100
"""Values of one metric in one EMF document (CloudWatch's limit)."""


@dataclass
class _Series:
    unit: MetricUnit
    values: list[float] = field(default_factory=list)


_Dimensions = tuple[str, str]  # (channel, priority)


class ChannelMetrics:
    """Metrics gathered by (channel, priority) from any thread, written by `flush()` (see the module's
    docstring). One per process (`channel_metrics`): a flush writes whatever has been gathered, so
    concurrent invocations in one process (the local stack) still write each value once, under its
    own dimensions."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[_Dimensions, dict[str, float]] = defaultdict(dict)
        self._series: dict[_Dimensions, dict[str, _Series]] = defaultdict(dict)

    def count(self, name: str, *, channel: Channel, priority: Priority, value: float = 1) -> None:
        """Add `value` to the count `name` (unit Count) of (channel, priority)."""
        if not value or is_metrics_disabled():
            return
        key = (Channel(channel).value, Priority(priority).value)
        with self._lock:
            counts = self._counts[key]
            counts[name] = counts.get(name, 0) + value

    def observe(
        self,
        name: str,
        values: Iterable[float],
        *,
        channel: Channel,
        priority: Priority,
        unit: MetricUnit = MetricUnit.Milliseconds,
    ) -> None:
        """Keep each of `values` as a value of `name` for (channel, priority)."""
        if is_metrics_disabled():
            return
        key = (Channel(channel).value, Priority(priority).value)
        with self._lock:
            series = self._series[key].setdefault(name, _Series(unit))
            series.values.extend(float(v) for v in values)

    def flush(self) -> None:
        """Write what was gathered, one EMF document per (channel, priority), and forget it. Call it
        from the handler's thread."""
        with self._lock:
            counts, self._counts = self._counts, defaultdict(dict)
            series, self._series = self._series, defaultdict(dict)
        if is_metrics_disabled():
            return
        for channel, priority in sorted(counts.keys() | series.keys()):
            _write(
                channel, priority, counts.get((channel, priority), {}), series.get((channel, priority), {})
            )

    def clear(self) -> None:
        """Forget what was gathered, without writing it (tests)."""
        with self._lock:
            self._counts.clear()
            self._series.clear()


def _write(channel: str, priority: str, counts: dict[str, float], series: dict[str, _Series]) -> None:
    # The namespace and service of the function's other metrics (POWERTOOLS_METRICS_NAMESPACE and
    # POWERTOOLS_SERVICE_NAME, as the function started with them).
    emf = EphemeralMetrics(namespace=metrics.namespace, service=metrics.service)
    if emf.service:
        emf.add_dimension(name="service", value=str(emf.service))
    emf.add_dimension(name="channel", value=channel)
    emf.add_dimension(name="priority", value=priority)
    for name, total in sorted(counts.items()):
        emf.add_metric(name=name, unit=MetricUnit.Count, value=total)
    for name, kept in sorted(series.items()):
        # EphemeralMetrics writes a document by itself when a metric reaches 100 values, and goes on
        # with a new one under the same dimensions.
        for value in kept.values:
            emf.add_metric(name=name, unit=kept.unit, value=value)
    if emf.metric_set:
        emf.flush_metrics()


metrics = Metrics()
channel_metrics = ChannelMetrics()

# An invocation that only answered an error or a status read has no metric to publish; that is
# expected, and Powertools' warning about it would only add noise to every such log stream.
warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)


def count_channels(name: str, channels: Iterable[Channel], priority: Priority) -> None:
    """`name` once for each of `channels`, by channel and priority; written now."""
    for channel in channels:
        channel_metrics.count(name, channel=channel, priority=priority)
    channel_metrics.flush()


def count_provider(name: str, *, channel: Channel, provider: str, value: float = 1) -> None:
    """`value` of the count `name` by channel and provider (a provider's failures, failovers, its
    breaker opening or closing), written now, as one EMF document."""
    if not value or is_metrics_disabled():
        return
    emf = EphemeralMetrics(namespace=metrics.namespace, service=metrics.service)
    if emf.service:
        emf.add_dimension(name="service", value=str(emf.service))
    emf.add_dimension(name="channel", value=Channel(channel).value)
    emf.add_dimension(name="provider", value=provider)
    emf.add_metric(name=name, unit=MetricUnit.Count, value=value)
    emf.flush_metrics()
