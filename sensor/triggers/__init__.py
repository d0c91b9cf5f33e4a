"""What a sensor does when a trigger's condition holds: one module per trigger type.

Importing this package registers every supported type in :data:`TRIGGERS` (by YAML key); see
:mod:`sensor.triggers.base` for the interface a firing goes through, and
:mod:`sensor.triggers.policy` for ``retryStrategy`` and ``rateLimit``.
"""

from sensor.triggers import argo_workflow, aws_lambda, http, k8s, log, nats, slack
from sensor.triggers.base import (
    TRIGGER_TYPES,
    TRIGGERS,
    Firing,
    Outcome,
    TriggerContext,
    TriggerError,
    TriggerImpl,
    build,
    supported,
)
from sensor.triggers.nats import NatsConnections
from sensor.triggers.policy import RateLimiter, RetryPolicy, check_status, with_retry
from sensor.triggers.workflow import SubmitArgs, WorkflowSubmitter

__all__ = [
    "TRIGGERS",
    "TRIGGER_TYPES",
    "Firing",
    "NatsConnections",
    "Outcome",
    "RateLimiter",
    "RetryPolicy",
    "SubmitArgs",
    "TriggerContext",
    "TriggerError",
    "TriggerImpl",
    "WorkflowSubmitter",
    "argo_workflow",
    "aws_lambda",
    "build",
    "check_status",
    "http",
    "k8s",
    "log",
    "nats",
    "slack",
    "supported",
    "with_retry",
]
