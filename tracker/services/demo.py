"""The demo workspace seeded on first `make run` (and by `manage.py seed-demo`)."""

from __future__ import annotations

from sqlmodel import Session, select

from ..models import Process, User
from ..models.comment import SOURCE_WEB
from . import comments, integrations, processes, scenarios, tasks, templates, users

DEMO_PROCESS = "Support"


def seed_demo(*, session: Session, admin: User) -> bool:
    """Create a process, templates, a few tasks with comments. False if already seeded."""
    if session.exec(select(Process).where(Process.name == DEMO_PROCESS)).first() is not None:
        return False
    process = processes.create_process(
        session=session,
        name=DEMO_PROCESS,
        statuses=[
            {"name": "New", "is_initial": True},
            {"name": "In progress"},
            {"name": "Waiting for customer"},
            {"name": "Done", "is_final": True},
            {"name": "Cancelled", "is_final": True},
        ],
    )
    request_t = templates.create_template(
        session=session,
        data={
            "name": "Support request",
            "process_id": process.id,
            "default_title": "Customer request",
            "default_description": "Who is asking, what they need, by when.",
        },
    )
    bug_t = templates.create_template(
        session=session,
        data={
            "name": "Bug report",
            "process_id": process.id,
            "default_title": "Bug: ",
            "default_description": "Steps to reproduce:\n\n1. \n\nExpected:\n\nActual:",
        },
    )
    integration = integrations.ensure_defaults(session=session)
    scenarios.install_request_to_chatgpt(
        session=session, template_id=request_t.id, integration_id=integration.id
    )
    scenarios.install_request_to_chatgpt(
        session=session, template_id=bug_t.id, integration_id=integration.id
    )
    member = users.find_by_email(session, "alice@example.com")
    if member is None:
        member = users.create_user(
            session=session,
            email="alice@example.com",
            password="alice-demo-password",
            name="Alice (demo member)",
            role="member",
        )
    demo = [
        (
            request_t.id,
            "Customer cannot export invoices to PDF",
            "ACME Corp reports that *Export → PDF* spins forever for invoices over 50 lines.",
            [
                "Reproduced with invoice #4411: the export times out after 60 s.",
                "Try `/chatgpt suggest three likely causes and how to check each` to get ideas.",
            ],
        ),
        (
            bug_t.id,
            "Bug: search ignores accented letters",
            "Searching for *café* finds nothing, *cafe* finds the task.",
            ["Confirmed on staging."],
        ),
        (
            request_t.id,
            "Onboarding call for Globex",
            "Schedule a 30-minute onboarding call and send the checklist.",
            [],
        ),
    ]
    for template_id, title, description, thread in demo:
        task = tasks.create_task(
            session=session,
            author=admin,
            template_id=template_id,
            title=title,
            description=description,
            assignee_id=member.id,
        )
        for text in thread:
            comments.add_comment(
                session=session, task=task, author=admin, text=text, source=SOURCE_WEB
            )
    return True
