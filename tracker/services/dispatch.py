"""Hand runs to Celery after the transaction that created them has committed."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from flask import current_app

from ..models import Run

log = logging.getLogger(__name__)

EXECUTE_RUN = "tracker.execute_run"


# One quick retry: it re-opens a pooled connection that died with a broker restart. Anything
# slower is left to the sweep: this runs inside web requests, which must not wait on a broker.
RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}


def enqueue_runs(runs: Iterable[Run]) -> int:
    """Send `execute_run` for each run; returns how many were sent.

    A broker failure is logged and swallowed: the run stays queued in the database and the
    periodic sweep sends it again, so the user's command is never lost.
    """
    return enqueue_ids([run.id for run in runs if run.id is not None])


def enqueue_ids(run_ids: Iterable[int]) -> int:
    """Send `execute_run` for each run id; returns how many were sent.

    After the first failure the rest are not tried: the broker is down or hung, each try
    would wait for the broker's timeouts again, and the sweep sends them all later anyway.
    """
    ids = list(run_ids)
    if not ids or not current_app.config.get("CELERY_ENABLED", True):
        return 0
    celery = current_app.extensions["celery"]
    for sent, run_id in enumerate(ids):
        try:
            celery.send_task(EXECUTE_RUN, args=[run_id], retry=True, retry_policy=RETRY_POLICY)
        except Exception as exc:  # kombu raises many kinds; all mean "not sent now"
            log.warning(
                "broker unavailable, %d run(s) from run %s stay queued for the sweep: %s",
                len(ids) - sent,
                run_id,
                exc,
            )
            return sent
    return len(ids)


def waiting_messages() -> int | None:
    """How many messages wait in the broker's queue for a worker; None when unknown.

    The sweep asks this before it re-sends queued runs: while messages wait, the runs' own
    messages are most likely among them, and sending more would only lengthen the queue
    that is late (and so make more runs look stale at the next sweep).
    """
    if not current_app.config.get("CELERY_ENABLED", True):
        return None
    celery = current_app.extensions["celery"]
    try:
        with celery.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1)
            channel = connection.default_channel
            try:
                declared = channel.queue_declare(
                    queue=celery.conf.task_default_queue, passive=True
                )
            except connection.channel_errors:
                return 0  # no such queue: nothing waits (Redis forgets empty lists)
            return int(declared.message_count)
    except Exception as exc:  # kombu raises many kinds; all mean "cannot tell now"
        log.warning("cannot read the broker's queue length: %s", exc)
        return None
