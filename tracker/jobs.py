"""Celery jobs. They take ids only and reload state, so a redelivery sees the truth."""

from __future__ import annotations

from celery import shared_task

from .automation import runner


@shared_task(name="tracker.execute_run", ignore_result=True)
def execute_run(run_id: int) -> str:
    return runner.execute(run_id)


@shared_task(name="tracker.sweep_runs", ignore_result=True)
def sweep_runs() -> dict[str, int]:
    return runner.sweep()
