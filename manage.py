#!/usr/bin/env python3
"""Command line: run, worker, db upgrade, create-admin, create-token, seed-demo."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time

import click

from tracker import create_app
from tracker.db import new_session
from tracker.migrate import upgrade


@click.group()
def cli() -> None:
    """Tracker management commands."""


@cli.group()
def db() -> None:
    """Database migrations."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply all migrations (creates the database if needed)."""
    app = create_app()
    _prepare_var(app.config)
    upgrade(app.config["DATABASE_URL"])
    click.echo("Database is up to date.")


def _prepare_var(config: dict) -> None:  # type: ignore[type-arg]
    os.makedirs(config["VAR_DIR"], exist_ok=True)


@cli.command("create-admin")
@click.option("--email", required=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--name", default="")
def create_admin(email: str, password: str, name: str) -> None:
    """Create an admin, or make an existing user admin with this password."""
    from tracker.services import users
    from tracker.services.errors import ServiceError

    app = create_app()
    with app.app_context(), new_session() as session:
        try:
            user = users.find_by_email(session, email)
            if user is None:
                user = users.create_user(
                    session=session, email=email, password=password, name=name, role="admin"
                )
                click.echo(f"Admin {user.email} created.")
            else:
                users.update_user(
                    session=session, user=user, role="admin", password=password, is_active=True
                )
                click.echo(f"{user.email} is now an admin with the new password.")
        except ServiceError as exc:
            raise click.ClickException(exc.message) from None


@cli.command("create-token")
@click.option("--email", required=True)
@click.option("--name", default="CLI token")
def create_token(email: str, name: str) -> None:
    """Create a personal API token for a user and print it (only this once)."""
    from tracker.services import users

    app = create_app()
    with app.app_context(), new_session() as session:
        user = users.find_by_email(session, email)
        if user is None or user.is_bot:
            raise click.ClickException(f"No user with email {email}.")
        _, clear = users.create_token(session=session, user=user, name=name)
        click.echo(clear)


@cli.command("seed-demo")
def seed_demo() -> None:
    """Seed the demo workspace (process, templates, tasks, the /chatgpt scenario)."""
    app = create_app()
    with app.app_context(), new_session() as session:
        from tracker.services import demo

        admin = _first_admin(session)
        if admin is None:
            raise click.ClickException("Create an admin first (manage.py create-admin).")
        click.echo(
            "Demo workspace seeded."
            if demo.seed_demo(session=session, admin=admin)
            else "Demo workspace already present."
        )


def _first_admin(session):  # type: ignore[no-untyped-def]
    from sqlmodel import select

    from tracker.models import User

    return session.exec(
        select(User).where(User.role == "admin", User.is_bot == False).order_by(User.id)  # noqa: E712
    ).first()


def _first_run(app) -> tuple[str, str] | None:  # type: ignore[no-untyped-def]
    """On an empty database: an admin with a generated password, and the demo workspace."""
    from tracker.services import demo, setup, users

    with app.app_context(), new_session() as session:
        if _first_admin(session) is not None:
            return None
        email = os.environ.get("ADMIN_EMAIL", "admin@example.com")
        password = secrets.token_urlsafe(12)
        admin = users.create_user(
            session=session, email=email, password=password, name="Admin", role="admin"
        )
        setup.first_workspace(session=session)
        demo.seed_demo(session=session, admin=admin)
        return email, password


@cli.command("worker")
@click.option("--concurrency", type=int, default=None, help="Threads (default WORKER_CONCURRENCY).")
@click.option("--beat/--no-beat", default=True, help="Run the periodic sweep in this worker.")
@click.option("--loglevel", default="INFO")
def worker(concurrency: int | None, beat: bool, loglevel: str) -> None:
    """Run a Celery worker (threads pool: LLM calls are slow and IO-bound)."""
    app = create_app()
    celery = app.extensions["celery"]
    argv = [
        "worker",
        "--pool=threads",
        f"--concurrency={concurrency or app.config['WORKER_CONCURRENCY']}",
        f"--loglevel={loglevel}",
        "--queues=tracker",
        "--without-gossip",
        "--without-mingle",
    ]
    if beat:
        argv += [
            "--beat",
            f"--schedule={os.path.join(app.config['VAR_DIR'], 'celerybeat-schedule')}",
        ]
    celery.worker_main(argv)


@cli.command("run")
@click.option("--host", default=None)
@click.option("--port", type=int, default=None)
def run(host: str | None, port: int | None) -> None:
    """Migrate, seed on first run, then serve the web UI and a worker together."""
    from werkzeug.serving import run_simple

    app = create_app()
    _prepare_var(app.config)
    upgrade(app.config["DATABASE_URL"])
    host = host or app.config["HOST"]
    port = port or app.config["PORT"]
    created = _first_run(app)
    worker_proc = subprocess.Popen(
        [sys.executable, os.path.abspath(__file__), "worker", "--loglevel=WARNING"]
    )
    url = f"http://{host}:{port}/"
    click.echo("")
    click.echo(f"  Tracker is running: open {url}")
    if created:
        click.echo(f"  Sign in as {created[0]} with password {created[1]}")
        click.echo("  (shown only now; reset it with: python manage.py create-admin --email ...)")
    click.echo("  A worker runs alongside (Celery, threads pool). Press Ctrl-C to stop both.")
    click.echo("")

    def _stop(*_args: object) -> None:
        raise KeyboardInterrupt

    # Installed explicitly: a shell that starts us in the background leaves SIGINT ignored.
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        run_simple(host, port, app, threaded=True, use_reloader=False)
    except KeyboardInterrupt:
        pass
    finally:
        worker_proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        while worker_proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        if worker_proc.poll() is None:
            worker_proc.kill()
        click.echo("Stopped.")


if __name__ == "__main__":
    cli()
