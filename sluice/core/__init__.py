"""The shared bottom layer: base model, resource loading, errors, task supervision.

Every component package (eventsource, eventbus, sensor, engine) may import this package;
it imports none of them.
"""
