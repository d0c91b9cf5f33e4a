"""Firing one trigger with its events: parameters, rate limit, retries, and the dead letters.

The steps are Argo's (``pkg/sensors/listener.go``): apply the trigger-level ``parameters`` to
the template, build the trigger type, fetch its resource, apply the type's ``parameters`` (and
build its ``payload``), then execute, all within the trigger's ``rateLimit`` and retried per
its ``retryStrategy`` (only errors another attempt can fix). A trigger that still fails goes to
its ``dlqTrigger``, fired with the same events, and when there is none, or it fails too, to a
dead-letter record (:mod:`sensor.deadletters`) that ``sluice dlq redrive`` can fire again.

``dry_run`` stops before executing and returns the rendered resource: ``sluice sensor test``
shows what would be submitted without a bus or an engine.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from sensor.deadletters import DeadLetter, DeadLetters
from sensor.decisions import DEAD_LETTERED, DUPLICATE, FAILED, FIRED, WOULD_FIRE, FireResult
from sensor.logic import TriggerPlan
from sensor.models import Trigger, TriggerParameter, TriggerTemplate, parameter_lists
from sensor.parameters import (
    ParameterError,
    apply_parameters,
    apply_template_parameters,
    build_payload,
)
from sensor.triggers import (
    Firing,
    Outcome,
    RateLimiter,
    TriggerContext,
    TriggerError,
    build,
    with_retry,
)
from sluice.core.clock import Clock, SystemClock

__all__ = ["Firer", "TriggerContext"]

log = logging.getLogger(__name__)
Events = Mapping[str, Mapping[str, Any]]


class Firer:
    """Fires the triggers of one sensor (the ``fire`` of ``SensorLogic``)."""

    def __init__(
        self,
        context: TriggerContext,
        namespace: str,
        sensor: str,
        dead_letters: DeadLetters | None,
        *,
        clock: Clock | None = None,
        dry_run: bool = False,
    ) -> None:
        self.context = context
        self.namespace = namespace
        self.sensor = sensor
        self.dead_letters = dead_letters
        self.clock: Clock = clock or SystemClock()
        self.dry_run = dry_run
        self._limiters: dict[str, RateLimiter | None] = {}
        self._parameters: dict[
            str, tuple[TriggerTemplate, list[dict[str, list[TriggerParameter]]]]
        ] = {}

    async def __call__(
        self, plan: TriggerPlan, events: dict[str, Any], key: str, *, redrive: bool = False
    ) -> FireResult:
        trigger = plan.trigger
        if self.dry_run:
            try:
                _, rendered = await self._prepare(trigger, events)
            except TriggerError as exc:
                return FireResult(FAILED, str(exc))
            if "payload_bytes" in rendered:
                rendered["payload"] = _readable(rendered.pop("payload_bytes"))
            return FireResult(WOULD_FIRE, resource=rendered)
        try:
            outcome = await self._fire(trigger, events, key)
        except TriggerError as exc:
            if redrive:
                return FireResult(FAILED, str(exc))
            return await self._dead_letter(trigger, events, key, exc)
        return FireResult(
            DUPLICATE if outcome.duplicate else FIRED, outcome.detail, outcome.workflow
        )

    async def _fire(self, trigger: Trigger, events: Events, key: str) -> Outcome:
        limiter = self._limiter(trigger)
        firing = Firing(self.namespace, self.sensor, trigger.template.name, events, key)

        async def attempt() -> Outcome:
            if limiter is not None:
                await limiter.acquire()
            impl, rendered = await self._prepare(trigger, events)
            return await impl.fire(firing, rendered["resource"], rendered.get("payload_bytes"))

        def retrying(attempt: int, error: TriggerError, delay: float) -> None:
            log.warning(
                "sensor/%s: trigger %s failed (attempt %d): %s; retry in %.1fs",
                self.sensor,
                trigger.template.name,
                attempt,
                error,
                delay,
            )

        return await with_retry(
            attempt, trigger.retry_strategy, sleep=self.clock.sleep, on_retry=retrying
        )

    async def _prepare(self, trigger: Trigger, events: Events) -> tuple[Any, dict[str, Any]]:
        """The trigger type built and its resource and payload rendered for ``events``."""
        try:
            template = apply_template_parameters(trigger, events)
        except ParameterError as exc:
            raise TriggerError(str(exc), retryable=False) from exc
        if template is trigger.template:  # no template parameters: nothing to copy
            effective, lists_of = trigger, self._lists(template)
        else:
            effective = trigger.model_copy(update={"template": template})
            lists_of = _parameter_lists(template)
        impl = build(effective, self.context)
        resource = await impl.resource()
        rendered: dict[str, Any] = {"resource": resource}
        for lists in lists_of:
            try:
                if "parameters" in lists:
                    rendered["resource"] = apply_parameters(lists["parameters"], events, resource)
                if "payload" in lists:
                    rendered["payload_bytes"] = build_payload(lists["payload"], events)
            except ParameterError as exc:
                raise TriggerError(str(exc), retryable=False) from exc
        return impl, rendered

    def _lists(self, template: TriggerTemplate) -> list[dict[str, list[TriggerParameter]]]:
        """``_parameter_lists`` of a trigger's own template, worked out once."""
        cached = self._parameters.get(template.name)
        if cached is None or cached[0] is not template:
            cached = self._parameters[template.name] = (template, _parameter_lists(template))
        return cached[1]

    def _limiter(self, trigger: Trigger) -> RateLimiter | None:
        name = trigger.template.name
        if name not in self._limiters:
            self._limiters[name] = RateLimiter.from_spec(trigger.rate_limit, self.clock)
        return self._limiters[name]

    async def _dead_letter(
        self, trigger: Trigger, events: Events, key: str, error: TriggerError
    ) -> FireResult:
        name = trigger.template.name
        log.error("sensor/%s: trigger %s failed: %s", self.sensor, name, error)
        dlq = trigger.dlq_trigger
        if dlq is not None:
            try:
                outcome = await self._fire(dlq, events, key + "-dlq")
            except TriggerError as dlq_error:
                error = TriggerError(
                    f"{error}; dlqTrigger {dlq.template.name} failed too: {dlq_error}",
                    retryable=False,
                )
            else:
                return FireResult(
                    DEAD_LETTERED,
                    f"{error}; sent to dlqTrigger {dlq.template.name}: {outcome.detail}",
                    outcome.workflow,
                )
        if self.dead_letters is None:
            return FireResult(FAILED, str(error))
        letter = DeadLetter(
            namespace=self.namespace,
            sensor=self.sensor,
            kind="trigger",
            reason=str(error),
            at=self.clock.now().isoformat(),
            trigger=name,
            key=key,
            events=dict(events),
        )
        await self.dead_letters.add(letter)
        return FireResult(DEAD_LETTERED, f"{error}; dead letter {letter.id}")


def _parameter_lists(template: TriggerTemplate) -> list[dict[str, list[TriggerParameter]]]:
    """The ``parameters`` and ``payload`` lists of each trigger type the template sets."""
    return [parameter_lists(spec) for spec in template.trigger_types().values()]


def _readable(payload: bytes) -> Any:
    try:
        return json.loads(payload)
    except ValueError:
        return payload.decode("utf-8", "replace")
