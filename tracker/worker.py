"""Celery bound to the Flask app; all Celery settings live here (one place).

Jobs are plain `@shared_task`s in `tracker.jobs` taking only ids; `FlaskTask` runs each
inside an app context so they can use services and the database.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from datetime import timedelta
from typing import Any

from celery import Celery, Task
from celery.signals import beat_embedded_init
from flask import Flask
from kombu.transport import redis as kombu_redis
from redis import exceptions as redis_exceptions

from .automation.pool import ProviderPool

log = logging.getLogger(__name__)


def celery_config(app: Flask) -> dict[str, Any]:
    broker = app.config["CELERY_BROKER_URL"]
    conf: dict[str, Any] = {
        "broker_url": broker,
        # Results live in the database (Run rows); Celery needs no result backend.
        "task_ignore_result": True,
        "result_backend": None,
        "task_serializer": "json",
        "accept_content": ["json"],
        # At-least-once delivery: a job is acknowledged after it ran, and re-delivered if
        # its worker dies; effects are made exactly once by unique keys in the database.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "task_soft_time_limit": app.config["RUN_SOFT_TIME_LIMIT"],
        "task_time_limit": app.config["RUN_SOFT_TIME_LIMIT"] + 30,
        "broker_connection_retry_on_startup": True,
        # Reconnect to a lost broker forever (Celery's back-off grows to 30 s between tries):
        # the default of 100 tries gives up after about 45 minutes of outage and the worker
        # exits, so it would not resume by itself when the broker comes back.
        "broker_connection_max_retries": None,
        "broker_connection_timeout": 4,
        "worker_hijack_root_logger": False,
        "worker_send_task_events": False,
        "task_routes": {"tracker.*": {"queue": "tracker"}},
        "task_default_queue": "tracker",
        "beat_schedule": {
            "sweep-runs": {
                "task": "tracker.sweep_runs",
                "schedule": timedelta(seconds=app.config["SWEEP_INTERVAL"]),
            }
        },
    }
    if broker.startswith("sqla+sqlite"):
        # These options go to SQLAlchemy's create_engine for the broker's own database; the
        # web process and the worker share the file, so wait for locks instead of failing.
        # (kombu's SQL transport polls its table once a second.)
        conf["broker_transport_options"] = {"connect_args": {"timeout": 30}}
    elif broker.startswith(("redis://", "rediss://")):
        if broker.startswith("redis://"):  # (rediss:// keeps kombu's own TLS checks)
            conf["broker_transport"] = f"{__name__}:RedisTransport"
        # A job not acknowledged within this time (worker killed) is delivered again.
        conf["broker_transport_options"] = {
            "visibility_timeout": app.config["RUN_SOFT_TIME_LIMIT"] + 60,
            # Without socket timeouts a broker that accepts connections but does not answer
            # (hung, paused, a half-open connection through NAT or a proxy) blocks a publish
            # forever, and with it the web request that posted a comment. Redis answers in
            # milliseconds and the worker's BRPOP returns every second, so 2 s is ample.
            "socket_connect_timeout": 2,
            "socket_timeout": 2,
            # Opening a channel to publish tries once instead of retrying for the whole
            # broker_connection_timeout; dispatch's retry policy and the sweep retry later.
            # (The worker's consumer reconnects under broker_connection_max_retries.)
            "max_retries": 0,
        }
    return conf


class _RedisChannel(kombu_redis.Channel):
    def _connparams(self, asynchronous: bool = False) -> Any:
        if self.connection.client is None:
            # When Redis goes away while jobs run (acks_late: their messages are unacknowledged),
            # Celery's cleanup detaches the transport from its connection, then closes the
            # channel again, which tries to put the unacknowledged messages back through a new
            # pool built from the detached transport: AttributeError on `None.hostname`. That is
            # not a connection error, so Celery calls it unrecoverable and the worker exits
            # instead of reconnecting. Say what it is; the reconnect loop goes on, and the sweep
            # recovers the runs whose messages Redis lost.
            raise redis_exceptions.ConnectionError("the connection to the broker is closed")
        return super()._connparams(asynchronous=asynchronous)


class RedisTransport(kombu_redis.Transport):
    """kombu's Redis transport, with a worker crash on broker restarts fixed (see above)."""

    Channel = _RedisChannel


@beat_embedded_init.connect(weak=False)
def _exit_with_the_worker(**_kwargs: Any) -> None:
    """The beat embedded in a worker (`--beat`) is a child process; make it die with it.

    If the worker is killed (SIGKILL, OOM killer) the child is not told: it is re-parented
    and goes on scheduling sweeps forever, and each restarted worker adds one more beat.
    It polls its parent and exits as soon as the worker that started it is gone.
    """
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        log.warning("beat: the worker process %s is gone; exiting", parent)
        os._exit(0)

    threading.Thread(target=watch, name="beat-parent-watch", daemon=True).start()


def init_app(app: Flask) -> Celery:
    """Create the Celery app for `app`, store it in `app.extensions["celery"]`."""

    class FlaskTask(Task):  # type: ignore[misc]
        def __call__(self, *args: object, **kwargs: object) -> object:
            with app.app_context():
                return self.run(*args, **kwargs)

    celery = Celery(app.import_name, task_cls=FlaskTask)
    celery.config_from_object(celery_config(app))
    celery.set_default()
    app.extensions["celery"] = celery
    app.extensions["providers"] = ProviderPool()
    from . import jobs  # noqa: F401  (registers the shared tasks)

    return celery
