"""SQLModel tables, one concept per module."""

from .comment import Comment
from .integration import Integration
from .process import Process, Status
from .run import Run
from .scenario import Scenario
from .setting import WorkspaceSetting
from .task import Task
from .template import TaskTemplate
from .user import ApiToken, User

__all__ = [
    "ApiToken",
    "Comment",
    "Integration",
    "Process",
    "Run",
    "Scenario",
    "Status",
    "Task",
    "TaskTemplate",
    "User",
    "WorkspaceSetting",
]
