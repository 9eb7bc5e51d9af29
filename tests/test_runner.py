"""The runner's recovery rules, driven in-process (the worker tests cover the transport):
a run resumes after its last finished operation and gives up after too many deliveries."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

from flask import Flask
from sqlmodel import select

from tests.conftest import Api, wait_for
from tracker.automation import runner
from tracker.db import new_session
from tracker.models import Comment, Run
from tracker.models._base import utcnow


def _setup(admin_api: Api, workspace: Any, fake_llm: Any) -> int:
    integration = admin_api.post(
        "/integrations",
        {
            "name": "Fake",
            "base_url": fake_llm.base_url,
            "api_key": "sk-test-0123456789abcdef",
        },
    ).get_json()
    admin_api.post(
        "/configurations/request-to-chatgpt",
        {"template_id": workspace["template"]["id"], "integration_id": integration["id"]},
    )
    task = admin_api.post("/tasks", {"template_id": workspace["template"]["id"]}).get_json()
    admin_api.post(f"/tasks/{task['id']}/comments", {"text": "/chatgpt hello"})
    return int(admin_api.get(f"/tasks/{task['id']}/runs").get_json()["items"][0]["id"])


def _set_run(app: Flask, run_id: int, **fields: Any) -> None:
    """Put a run into the state a crashed or busy worker would leave it in."""
    with app.app_context(), new_session() as session:
        run = session.get(Run, run_id)
        assert run is not None
        for name, value in fields.items():
            setattr(run, name, value)
        session.add(run)
        session.commit()


def _bot_comments(app: Flask, run_id: int) -> list[Comment]:
    with app.app_context(), new_session() as session:
        return list(session.exec(select(Comment).where(Comment.run_id == run_id)))


def test_a_run_whose_llm_call_finished_resumes_without_calling_again(
    app: Flask, admin_api: Api, workspace: Any, fake_llm: Any
) -> None:
    run_id = _setup(admin_api, workspace, fake_llm)
    # As if a worker died right after storing the infoblock, before posting the reply.
    _set_run(
        app,
        run_id,
        status="running",
        lease_until=utcnow() - timedelta(seconds=1),
        progress=1,
        attempts=1,
        infoblock={"Response": "stored answer", "Tokens used": 7},
    )
    with app.app_context():
        assert runner.execute(run_id) == "done"
        assert runner.execute(run_id) == "skipped"  # a late duplicate delivery does nothing
    assert fake_llm.chat_requests == []
    assert [c.text for c in _bot_comments(app, run_id)] == ["stored answer"]


def test_a_run_is_not_taken_while_its_lease_holds(
    app: Flask, admin_api: Api, workspace: Any, fake_llm: Any
) -> None:
    run_id = _setup(admin_api, workspace, fake_llm)
    _set_run(app, run_id, status="running", lease_until=utcnow() + timedelta(minutes=5), attempts=1)
    with app.app_context():
        assert runner.execute(run_id) == "skipped"
    assert fake_llm.chat_requests == [] and _bot_comments(app, run_id) == []


def test_an_execution_whose_lease_ran_out_cannot_write_beside_the_one_that_took_over(
    app: Flask, admin_api: Api, workspace: Any, fake_llm: Any
) -> None:
    """A slow call outlives the lease; another delivery takes the run over and answers. The
    first execution's late answer must not add a reply, an error comment or a state."""
    run_id = _setup(admin_api, workspace, fake_llm)
    fake_llm.latency = 1.5
    outcome: dict[str, str] = {}

    def first() -> None:
        with app.app_context():
            outcome["first"] = runner.execute(run_id)

    thread = threading.Thread(target=first)
    thread.start()
    wait_for(lambda: fake_llm.chat_requests, timeout=10, message="the first call")
    _set_run(app, run_id, lease_until=utcnow() - timedelta(seconds=1))  # its lease runs out
    with app.app_context():
        outcome["second"] = runner.execute(run_id)  # takes over; answers after the first
    thread.join(timeout=30)
    assert outcome == {"first": "superseded", "second": "done"}
    comments = _bot_comments(app, run_id)
    assert [(c.text, c.is_error) for c in comments] == [("Fake reply to: hello", False)]
    with app.app_context(), new_session() as session:
        run = session.get(Run, run_id)
        assert run is not None
        assert (run.status, run.attempts, run.progress) == ("done", 2, 2) and not run.error
    assert len(fake_llm.chat_requests) == 2


def test_a_run_whose_workers_keep_dying_fails_with_one_error_comment(
    app: Flask, admin_api: Api, workspace: Any, fake_llm: Any
) -> None:
    run_id = _setup(admin_api, workspace, fake_llm)
    _set_run(
        app,
        run_id,
        status="running",
        lease_until=utcnow() - timedelta(seconds=1),
        attempts=app.config["RUN_MAX_JOB_ATTEMPTS"],
    )
    with app.app_context():
        assert runner.execute(run_id) == "failed"
        assert runner.execute(run_id) == "skipped"
    [comment] = _bot_comments(app, run_id)
    assert comment.is_error and "worker stopped repeatedly" in comment.text
    assert fake_llm.chat_requests == []


def _purge_queue(app: Flask) -> int:
    """Empty the broker's queue as a broker restart without persistence would."""
    celery = app.extensions["celery"]
    with app.app_context(), celery.connection_for_write() as connection:
        return int(connection.default_channel.queue_purge(celery.conf.task_default_queue) or 0)


def test_sweep_resends_stale_queued_runs_only_when_no_message_waits(
    app: Flask, admin_api: Api, workspace: Any, fake_llm: Any
) -> None:
    """No worker runs here, so the message the web request published stays in the real
    broker queue: the sweep must not pile copies on top of it, however old the run looks."""
    _purge_queue(app)  # (the Redis leg shares its database with earlier tests)
    run_id = _setup(admin_api, workspace, fake_llm)
    stale = utcnow() - timedelta(seconds=app.config["RUN_REQUEUE_AFTER"] + 5)
    _set_run(app, run_id, created_at=stale)
    with app.app_context():
        result = runner.sweep()
        assert (result["requeued"], result["backlog"]) == (0, 1)
    assert _purge_queue(app) == 1  # the broker loses the message
    with app.app_context():
        result = runner.sweep()
        assert (result["requeued"], result["sent"], result["backlog"]) == (1, 1, 0)
        assert runner.sweep()["requeued"] == 0  # its new message waits: not again
    _set_run(app, run_id, enqueued_at=stale)
    with app.app_context():
        assert runner.sweep()["requeued"] == 0  # still waiting behind a backlog: not yet
    patience = app.config["RUN_REQUEUE_AFTER"] * runner.BACKLOG_PATIENCE
    _set_run(app, run_id, enqueued_at=utcnow() - timedelta(seconds=patience + 5))
    with app.app_context():
        assert runner.sweep()["requeued"] == 1  # so old that it is re-sent all the same
        assert runner.sweep()["requeued"] == 0  # once per patience period, not per sweep
        assert runner.execute(run_id) == "done"
        assert runner.sweep()["requeued"] == 0
    assert [c.text for c in _bot_comments(app, run_id)] == ["Fake reply to: hello"]
    assert _purge_queue(app) == 2  # one copy per patience period, not one per sweep


def test_sweep_requeues_orphaned_runs_even_behind_a_backlog(
    app: Flask, admin_api: Api, workspace: Any, fake_llm: Any
) -> None:
    _purge_queue(app)
    run_id = _setup(admin_api, workspace, fake_llm)
    past = utcnow() - timedelta(seconds=5)
    _set_run(app, run_id, status="running", lease_until=past, started_at=past, attempts=1)
    with app.app_context():
        result = runner.sweep()
        assert (result["orphaned"], result["backlog"]) == (1, 1)
        assert runner.execute(run_id) == "done"
    assert [c.text for c in _bot_comments(app, run_id)] == ["Fake reply to: hello"]
