"""The event bus: the EventBus resource, an embedded nats-server, and JetStream publishing.

Sources publish through ``Bus.publish`` and sensors consume through ``Bus.subscribe`` and keep
state with ``Bus.kv``; ``eventbus.base`` holds the Protocols they depend on and
``eventbus.jetstream`` the NATS JetStream implementation.
"""
