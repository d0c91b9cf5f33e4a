"""Event types driven by time, files or Kubernetes: calendar, file, resource, hdfs, sftp, gerrit."""

from __future__ import annotations

from pydantic import Field

from eventsource.models.common import (
    BasicAuth,
    ConfigMapKeySelector,
    EventSourceFilter,
    EventSourceModel,
    SecretKeySelector,
    WatchPathConfig,
    WebhookContext,
)


class CatchupConfiguration(EventSourceModel):
    enabled: bool | None = None
    max_duration: str | None = None


class ConfigMapPersistence(EventSourceModel):
    name: str | None = None
    create_if_not_exist: bool | None = None


class EventPersistence(EventSourceModel):
    """Where the last fired time is kept, so missed schedules can be caught up after a restart."""

    catchup: CatchupConfiguration | None = None
    config_map: ConfigMapPersistence | None = None


class CalendarEventSource(EventSourceModel):
    schedule: str | None = None
    interval: str | None = None
    exclusion_dates: list[str] | None = None
    timezone: str | None = None
    metadata: dict[str, str] | None = None
    persistence: EventPersistence | None = None
    filter: EventSourceFilter | None = None


class FileEventSource(EventSourceModel):
    event_type: str | None = None
    watch_path_config: WatchPathConfig | None = None
    polling: bool | None = None
    metadata: dict[str, str] | None = None
    filter: EventSourceFilter | None = None


class Selector(EventSourceModel):
    key: str | None = None
    operation: str | None = None
    value: str | None = None


class ResourceFilter(EventSourceModel):
    prefix: str | None = None
    labels: list[Selector] | None = None
    fields: list[Selector] | None = None
    created_by: str | None = None
    after_start: bool | None = None


class ResourceEventSource(EventSourceModel):
    """Kubernetes objects of one group/version/resource, watched for ADD, UPDATE, DELETE."""

    namespace: str | None = None
    filter: ResourceFilter | None = None
    group: str | None = None
    version: str | None = None
    resource: str | None = None
    event_types: list[str] | None = None
    metadata: dict[str, str] | None = None


class HDFSEventSource(EventSourceModel):
    # WatchPathConfig is inlined here in Argo's type.
    directory: str | None = None
    path: str | None = None
    path_regexp: str | None = None
    type: str | None = None
    check_interval: str | None = None
    addresses: list[str] | None = None
    hdfs_user: str | None = None
    krb_c_cache_secret: SecretKeySelector | None = None
    krb_keytab_secret: SecretKeySelector | None = None
    krb_username: str | None = None
    krb_realm: str | None = None
    krb_config_config_map: ConfigMapKeySelector | None = None
    krb_service_principal_name: str | None = None
    metadata: dict[str, str] | None = None
    filter: EventSourceFilter | None = None


class SFTPEventSource(EventSourceModel):
    event_type: str | None = None
    watch_path_config: WatchPathConfig | None = None
    username: SecretKeySelector | None = None
    password: SecretKeySelector | None = None
    ssh_key_secret: SecretKeySelector | None = None
    address: SecretKeySelector | None = None
    metadata: dict[str, str] | None = None
    filter: EventSourceFilter | None = None
    poll_interval_duration: str | None = None


class GerritEventSource(EventSourceModel):
    webhook: WebhookContext | None = None
    hook_name: str | None = None
    events: list[str] | None = None
    auth: BasicAuth | None = None
    gerrit_base_url: str | None = Field(default=None, alias="gerritBaseURL")
    delete_hook_on_finish: bool | None = None
    metadata: dict[str, str] | None = None
    projects: list[str] | None = None
    ssl_verify: bool | None = None
    filter: EventSourceFilter | None = None
    max_tries: int | None = None
