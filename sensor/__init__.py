"""Argo Events Sensors: event dependencies, their filters, and the triggers they fire.

:func:`parse_sensor` loads and checks a Sensor document; :mod:`sensor.models` holds the
resource's models and :mod:`sensor.conditions` the language of trigger conditions.
"""

from sensor.conditions import ConditionError, parse_condition
from sensor.models import Sensor, SensorSpec
from sensor.validation import parse_sensor, sensor_problems

__all__ = [
    "ConditionError",
    "Sensor",
    "SensorSpec",
    "parse_condition",
    "parse_sensor",
    "sensor_problems",
]
