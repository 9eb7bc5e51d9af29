"""Executing a run in the worker, and the periodic sweep.

A run is claimed (queued -> running, with a lease), its operations execute in order, and
each operation's effect is committed together with the run's progress, so a re-executed run
(redelivered message, retried job, sweep after a dead worker) resumes after the last finished
operation. Reply comments carry a unique effect key: a second insert is impossible.
No database transaction is open during the LLM call. Per command (claim, load, record the
request, reply + result + done) that is four short transactions.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import and_, func, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

import integrations as llm

from ..db import new_session
from ..models import Comment, Run
from ..models._base import utcnow
from ..models.comment import MAX_COMMENT_BYTES, SOURCE_AUTOMATION
from ..models.run import RUN_DONE, RUN_FAILED, RUN_QUEUED, RUN_RUNNING
from ..services import dispatch
from ..services import users as users_service
from ..services.integrations import provider_config
from . import operations as ops
from .context import RunContext, load
from .messages import build_messages
from .variables import INFOBLOCK_FIELDS, build_context, render

log = logging.getLogger(__name__)


def _add_notes(run: Run, unknown: list[str]) -> None:
    """Record unknown template variables in the run log, each once."""
    notes = [f"unknown variable {{{{{v}}}}}" for v in unknown]
    run.notes = list(dict.fromkeys([*run.notes, *notes]))


def _infoblock(values: dict[str, Any]) -> dict[str, Any]:
    """Every infoblock field, in order; missing or None values are empty text."""
    return {f: "" if values.get(f) is None else values[f] for f in INFOBLOCK_FIELDS}


class Superseded(Exception):
    """This execution no longer owns the run: another delivery claimed it after its lease
    ran out, or the run has ended. It stops without writing anything."""


class RunFailed(Exception):
    """An operation failed in a way the user should read about (the message is plain)."""

    def __init__(self, message: str, infoblock: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.infoblock = infoblock


# ---- claiming ----------------------------------------------------------------------------


def claim(run_id: int) -> bool:
    """queued -> running (or take over a running run whose lease has expired)."""
    now = utcnow()
    lease = timedelta(seconds=current_app.config["RUN_LEASE"])
    with new_session() as session:
        result = session.exec(  # type: ignore[call-overload]
            update(Run)
            .where(
                col(Run.id) == run_id,
                or_(
                    col(Run.status) == RUN_QUEUED,
                    and_(col(Run.status) == RUN_RUNNING, col(Run.lease_until) < now),
                ),
            )
            .values(
                status=RUN_RUNNING,
                attempts=col(Run.attempts) + 1,
                lease_until=now + lease,
                started_at=func.coalesce(col(Run.started_at), now),
            )
            .execution_options(synchronize_session=False)  # nothing loaded to keep in step
        )
        session.commit()
        return bool(result.rowcount == 1)


# ---- effects -----------------------------------------------------------------------------


def _post_once(
    session: Session,
    *,
    run_id: int,
    task_id: int,
    key: str,
    text: str,
    is_error: bool = False,
    bot_id: int | None = None,
    known_new: bool = False,
) -> None:
    """Insert the bot comment for `key` unless it exists (the unique key settles races).

    `known_new`: the caller knows from the run's progress, read in this transaction, that
    the comment does not exist yet, so the lookup is skipped.
    """
    if not known_new:
        exists = session.exec(select(Comment.id).where(Comment.effect_key == key)).first()
        if exists is not None:
            return
    if bot_id is None:
        bot_id = users_service.bot_user(session).id
    text = text.strip() or "(empty reply)"
    session.add(
        Comment(
            task_id=task_id,
            author_id=bot_id,
            text=text[:MAX_COMMENT_BYTES],  # type: ignore[arg-type]
            source=SOURCE_AUTOMATION,
            run_id=run_id,
            effect_key=key,
            is_error=is_error,
        )
    )


def _commit_effect(ctx: RunContext, apply: Any) -> None:
    """Run `apply(session, run)` and commit; a duplicate effect key means it was done already.

    Updates the run deferred in `ctx.deferred` (an LLM result waiting for the reply built
    from it) are applied first, in the same transaction: one commit instead of two.

    Fencing: the write happens only while the run is still running under the
    delivery this execution claimed (`ctx.attempts`); otherwise `Superseded` is raised and
    nothing is written, so an execution whose lease ran out (a slow call, a paused worker)
    can never post next to the one that took the run over, nor reopen or fail an ended run.
    Each write also renews the lease: it is always taken right before an LLM call.

    A unique violation can surface while `apply` flushes (the bot user created on first use
    by several runs at once) as well as at commit (the effect key): either way the attempt is
    rolled back and made again, and then sees the row the other transaction inserted.
    """
    run_id = ctx.run_id
    steps = [*ctx.deferred, apply]
    for _ in range(3):
        with new_session() as session:
            try:
                run = session.get(Run, run_id)
                assert run is not None
                if run.status != RUN_RUNNING or run.attempts != ctx.attempts:
                    raise Superseded(run_id)
                run.lease_until = utcnow() + timedelta(seconds=current_app.config["RUN_LEASE"])
                for step in steps:
                    step(session, run)
                session.add(run)
                session.commit()
                ctx.deferred.clear()
                return
            except IntegrityError:
                session.rollback()
                log.info("run %s: a concurrent transaction inserted the same row; retrying", run_id)
    raise RuntimeError(f"run {run_id}: the effect could not be committed")


def _fail(ctx: RunContext, message: str, infoblock: dict[str, Any] | None = None) -> None:
    """Mark the run failed and post the error comment, once."""

    def apply(session: Session, run: Run) -> None:
        run.status = RUN_FAILED
        run.error = message[:2000]
        run.finished_at = utcnow()
        run.lease_until = None
        block = dict(infoblock or run.infoblock or {})
        block["Error"] = message
        run.infoblock = block
        if isinstance(block.get("Attempts"), int):
            run.llm_attempts = block["Attempts"]
        if isinstance(block.get("Latency ms"), int):
            run.latency_ms = block["Latency ms"]
        template = ctx.error_template or ops.DEFAULT_ERROR_TEMPLATE
        variables = dict(ctx.variables)
        variables["Infoblock"] = block
        variables["Run"] = {"Id": run.id, "Error": message}
        text = render(template, build_context(variables)).text
        _post_once(
            session,
            run_id=run.id,
            task_id=run.task_id,
            key=f"run:{run.id}:error",  # type: ignore[arg-type]
            text=text,
            is_error=True,
            bot_id=ctx.bot_id,
        )

    _commit_effect(ctx, apply)


# ---- operations --------------------------------------------------------------------------


def _provider(ctx: RunContext, integration: Any) -> llm.Provider:
    pool = current_app.extensions["providers"]
    config = provider_config(integration, allow_local=ctx.allow_local_endpoints)
    return pool.get(integration, config)  # type: ignore[no-any-return]


def _llm_request(ctx: RunContext, index: int, op: dict[str, Any]) -> None:
    integration_id = op.get("integration_id") or ctx.default_integration_id
    integration = ctx.integrations.get(integration_id) if integration_id else None
    if integration is None:
        raise RunFailed("The scenario's integration no longer exists; an admin must pick another.")
    variables = build_context(ctx.variables)
    system = render(op.get("system_prompt") or "", variables)
    prompt = render(op.get("prompt") or ops.DEFAULT_PROMPT, variables)
    model = op.get("model") or integration.default_model or ops.DEFAULT_MODEL
    request = llm.ChatRequest(
        model=model,
        messages=build_messages(
            ctx, op.get("context") or ops.CONTEXT_PROMPT, system.text, prompt.text
        ),
        temperature=op.get("temperature"),
        max_tokens=op.get("max_tokens"),
        extra_params=op.get("extra_params") or {},
        extra_headers=op.get("extra_headers") or {},
    )
    try:
        provider = _provider(ctx, integration)
        sent = provider.describe_request(request)  # what is sent, secrets masked
    except (ValueError, llm.IntegrationError) as exc:
        raise RunFailed(getattr(exc, "user_message", None) or str(exc)) from None

    def record_start(session: Session, run: Run) -> None:
        run.integration_id, run.integration_name, run.model = (
            integration.id,
            integration.name,
            model,
        )
        run.request = sent
        _add_notes(run, system.unknown + prompt.unknown)

    _commit_effect(ctx, record_start)
    started = time.monotonic()
    try:
        result = provider.chat(request)  # no transaction is open here
    except llm.IntegrationError as exc:
        block = infoblock_for_error(exc, model, started)
        raise RunFailed(exc.user_message, block) from None
    block = _infoblock(
        {
            "Response": result.text,
            "Tokens used": result.total_tokens,
            "Prompt tokens": result.prompt_tokens,
            "Completion tokens": result.completion_tokens,
            "Model": result.model,
            "Finish reason": result.finish_reason,
            "Latency ms": result.latency_ms,
            "Attempts": result.attempts,
        }
    )

    def record_result(session: Session, run: Run) -> None:
        run.infoblock = block
        run.prompt_tokens, run.completion_tokens = result.prompt_tokens, result.completion_tokens
        run.total_tokens, run.latency_ms = result.total_tokens, result.latency_ms
        run.llm_attempts = result.attempts
        run.progress = index + 1

    # Committed with the next effect (usually the reply): if the worker dies before that,
    # the call is made again, which a redelivered run may do anyway.
    ctx.deferred.append(record_result)
    ctx.infoblock = block


def infoblock_for_error(exc: llm.IntegrationError, model: str, started: float) -> dict[str, Any]:
    return _infoblock(
        {
            "Model": model,
            "Latency ms": int((time.monotonic() - started) * 1000),
            "Attempts": exc.attempts,
            "Error": exc.user_message,
        }
    )


def _add_comment(ctx: RunContext, index: int, op: dict[str, Any]) -> None:
    variables = dict(ctx.variables)
    variables["Infoblock"] = ctx.infoblock
    rendered = render(op.get("text") or ops.DEFAULT_REPLY, build_context(variables))

    def apply(session: Session, run: Run) -> None:
        _post_once(
            session,
            run_id=run.id,
            task_id=run.task_id,
            key=f"run:{run.id}:op:{index}",  # type: ignore[arg-type]
            text=rendered.text,
            bot_id=ctx.bot_id,
            # The reply and the progress past it commit together, and the fence lets only
            # this execution (which loaded progress <= index) write the run: it is new.
            known_new=True,
        )
        run.progress = index + 1
        _add_notes(run, rendered.unknown)
        if run.progress == len(ctx.operations):
            _finish(run)  # the reply and "done" land together: no reply beside a pending run

    _commit_effect(ctx, apply)


HANDLERS = {ops.LLM_REQUEST: _llm_request, ops.ADD_COMMENT: _add_comment}


# ---- the job -----------------------------------------------------------------------------


def execute(run_id: int) -> str:
    """Execute one run; safe to call any number of times for the same id, also at once."""
    if not claim(run_id):
        return "skipped"
    with new_session() as session:
        run = session.get(Run, run_id)
        assert run is not None
        giving_up = run.attempts > current_app.config["RUN_MAX_JOB_ATTEMPTS"]
        ctx = load(session, run)
    try:
        return _execute(ctx, giving_up)
    except Superseded:
        log.info("run %s: taken over by another delivery or ended; this one stops", run_id)
        return "superseded"


def _execute(ctx: RunContext, giving_up: bool) -> str:
    if giving_up:
        _fail(
            ctx,
            "The worker stopped repeatedly while running this request; it was not retried again.",
        )
        return RUN_FAILED
    if not ctx.operations:
        _fail(ctx, "The scenario was deleted before this request ran.")
        return RUN_FAILED
    try:
        for index, op in enumerate(ctx.operations):
            if index < ctx.progress:
                continue  # done by an earlier delivery of this job
            HANDLERS[op["kind"]](ctx, index, op)
    except RunFailed as exc:
        _fail(ctx, exc.message, exc.infoblock)
        return RUN_FAILED
    except Superseded:
        raise
    except Exception:
        log.exception("run %s failed unexpectedly", ctx.run_id)
        _fail(
            ctx,
            "The request failed because of an internal error; "
            "an admin can find the details in the worker log.",
        )
        return RUN_FAILED

    if ctx.operations[-1]["kind"] != ops.ADD_COMMENT:  # else the reply's commit finished it
        _commit_effect(ctx, lambda session, run: _finish(run))
    return RUN_DONE


def _finish(run: Run) -> None:
    run.status, run.finished_at, run.lease_until = RUN_DONE, utcnow(), None


def _requeue(session: Session, condition: Any, now: Any) -> list[int]:
    """Set up to 1000 runs matching `condition` queued (again); return their ids."""
    ids = select(Run.id).where(condition).order_by(col(Run.id)).limit(1000)
    result = session.exec(  # type: ignore[call-overload]
        update(Run)
        .where(col(Run.id).in_(ids.scalar_subquery()), condition)
        .values(status=RUN_QUEUED, enqueued_at=now)
        .returning(col(Run.id))
        .execution_options(synchronize_session=False)
    )
    return [row[0] for row in result]


BACKLOG_PATIENCE = 10


def sweep() -> dict[str, int]:
    """Re-enqueue runs left queued (the broker was down or lost them) and runs whose worker
    died."""
    config = current_app.config
    now = utcnow()
    # Runs whose message still waits in the broker behind a backlog look stale too: while
    # messages wait, a queued run is re-sent only once it is BACKLOG_PATIENCE times as old
    # (its message may have been lost all the same, e.g. by a broker restart during the
    # backlog), so copies never pile onto a late queue faster than one per run per that
    # time. With no message waiting, or when the broker cannot say, the normal age applies.
    # A lease that expired always means a worker died.
    backlog = dispatch.waiting_messages()
    wait = config["RUN_REQUEUE_AFTER"] * (BACKLOG_PATIENCE if backlog else 1)
    still_queued = and_(
        col(Run.status) == RUN_QUEUED,
        func.coalesce(col(Run.enqueued_at), col(Run.created_at)) < now - timedelta(seconds=wait),
    )
    lease_expired = and_(col(Run.status) == RUN_RUNNING, col(Run.lease_until) < now)
    # One conditional UPDATE per kind, so the condition is checked on the row as it is when
    # it is written: a run claimed (or finished) by a worker between a SELECT and the write
    # must not be put back to queued, or it would be executed twice at the same time.
    with new_session() as session:
        queued = _requeue(session, still_queued, now)
        orphaned = _requeue(session, lease_expired, now)
        session.commit()
    sent = dispatch.enqueue_ids([*queued, *orphaned])
    if queued or orphaned:
        log.info(
            "sweep: %d queued and %d orphaned runs re-enqueued (%d sent)",
            len(queued),
            len(orphaned),
            sent,
        )
    return {
        "requeued": len(queued),
        "orphaned": len(orphaned),
        "sent": sent,
        "backlog": backlog if backlog is not None else -1,
    }
