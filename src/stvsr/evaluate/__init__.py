"""Evaluation: tasks and protocols, the runner, and the tables it writes."""

from .runner import EvalConfig, EvalResult, default_methods, evaluate
from .tasks import Task

__all__ = ["EvalConfig", "EvalResult", "Task", "default_methods", "evaluate"]
