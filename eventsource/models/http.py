"""Event types that receive HTTP calls: webhook and the SaaS webhooks built on it."""

from __future__ import annotations

from pydantic import Field

from eventsource.models.common import (
    EventSourceFilter,
    EventSourceModel,
    SecretKeySelector,
    TLSConfig,
    WebhookContext,
)


class WebhookEventSource(WebhookContext):
    """``spec.webhook.<name>``: the webhook context inline, plus a filter."""

    filter: EventSourceFilter | None = None


class OwnedRepositories(EventSourceModel):
    owner: str | None = None
    names: list[str] | None = None


class GithubAppCreds(EventSourceModel):
    private_key: SecretKeySelector | None = None
    app_id: int | None = Field(default=None, alias="appID")
    installation_id: int | None = Field(default=None, alias="installationID")


class GithubEventSource(EventSourceModel):
    id: int | None = None  # deprecated in Argo, unused
    webhook: WebhookContext | None = None
    owner: str | None = None  # deprecated: repositories
    repository: str | None = None  # deprecated: repositories
    events: list[str] | None = None
    api_token: SecretKeySelector | None = None
    webhook_secret: SecretKeySelector | None = None
    insecure: bool | None = None
    active: bool | None = None
    content_type: str | None = None
    github_base_url: str | None = Field(default=None, alias="githubBaseURL")
    github_upload_url: str | None = Field(default=None, alias="githubUploadURL")
    delete_hook_on_finish: bool | None = None
    metadata: dict[str, str] | None = None
    repositories: list[OwnedRepositories] | None = None
    organizations: list[str] | None = None
    github_app: GithubAppCreds | None = None
    filter: EventSourceFilter | None = None


class GitlabEventSource(EventSourceModel):
    webhook: WebhookContext | None = None
    project_id: str | None = Field(default=None, alias="projectID")  # deprecated: projects
    events: list[str] | None = None
    access_token: SecretKeySelector | None = None
    enable_ssl_verification: bool | None = Field(default=None, alias="enableSSLVerification")
    gitlab_base_url: str | None = Field(default=None, alias="gitlabBaseURL")
    delete_hook_on_finish: bool | None = None
    metadata: dict[str, str] | None = None
    projects: list[str] | None = None
    secret_token: SecretKeySelector | None = None
    filter: EventSourceFilter | None = None
    groups: list[str] | None = None


class BitbucketRepository(EventSourceModel):
    owner: str | None = None
    repository_slug: str | None = None


class BitbucketBasicAuth(EventSourceModel):
    username: SecretKeySelector | None = None
    password: SecretKeySelector | None = None


class BitbucketAuth(EventSourceModel):
    basic: BitbucketBasicAuth | None = None
    oauth_token: SecretKeySelector | None = None


class BitbucketEventSource(EventSourceModel):
    delete_hook_on_finish: bool | None = None
    metadata: dict[str, str] | None = None
    webhook: WebhookContext | None = None
    auth: BitbucketAuth | None = None
    events: list[str] | None = None
    owner: str | None = None  # deprecated: repositories
    project_key: str | None = None  # deprecated: repositories
    repository_slug: str | None = None  # deprecated: repositories
    repositories: list[BitbucketRepository] | None = None
    filter: EventSourceFilter | None = None


class BitbucketServerRepository(EventSourceModel):
    project_key: str | None = None
    repository_slug: str | None = None


class BitbucketServerEventSource(EventSourceModel):
    webhook: WebhookContext | None = None
    project_key: str | None = None  # deprecated: repositories
    repository_slug: str | None = None  # deprecated: repositories
    projects: list[str] | None = None
    repositories: list[BitbucketServerRepository] | None = None
    events: list[str] | None = None
    skip_branch_refs_changed_on_open_pr: bool | None = Field(
        default=None, alias="skipBranchRefsChangedOnOpenPR"
    )
    one_event_per_change: bool | None = None
    access_token: SecretKeySelector | None = None
    webhook_secret: SecretKeySelector | None = None
    bitbucketserver_base_url: str | None = Field(default=None, alias="bitbucketserverBaseURL")
    delete_hook_on_finish: bool | None = None
    metadata: dict[str, str] | None = None
    filter: EventSourceFilter | None = None
    tls: TLSConfig | None = None
    check_interval: str | None = None


class SlackEventSource(EventSourceModel):
    signing_secret: SecretKeySelector | None = None
    token: SecretKeySelector | None = None
    webhook: WebhookContext | None = None
    metadata: dict[str, str] | None = None
    filter: EventSourceFilter | None = None


class StripeEventSource(EventSourceModel):
    webhook: WebhookContext | None = None
    create_webhook: bool | None = None
    api_key: SecretKeySelector | None = None
    event_filter: list[str] | None = None
    metadata: dict[str, str] | None = None
    # Dropped from Argo's type but still in its own stripe example; kept so that example loads.
    namespace: str | None = None


class SNSEventSource(EventSourceModel):
    webhook: WebhookContext | None = None
    topic_arn: str | None = None
    access_key: SecretKeySelector | None = None
    secret_key: SecretKeySelector | None = None
    region: str | None = None
    role_arn: str | None = Field(default=None, alias="roleARN")
    metadata: dict[str, str] | None = None
    validate_signature: bool | None = None
    filter: EventSourceFilter | None = None
    endpoint: str | None = None


class StorageGridFilter(EventSourceModel):
    prefix: str | None = None
    suffix: str | None = None


class StorageGridEventSource(EventSourceModel):
    webhook: WebhookContext | None = None
    events: list[str] | None = None
    filter: StorageGridFilter | None = None
    topic_arn: str | None = None
    bucket: str | None = None
    region: str | None = None
    auth_token: SecretKeySelector | None = None
    api_url: str | None = Field(default=None, alias="apiURL")
    metadata: dict[str, str] | None = None
    tls: TLSConfig | None = None


class GenericEventSource(EventSourceModel):
    """A user's gRPC server that implements the event source."""

    url: str | None = None
    config: str | None = None
    insecure: bool | None = None
    json_body: bool | None = None
    metadata: dict[str, str] | None = None
    auth_secret: SecretKeySelector | None = None
    filter: EventSourceFilter | None = None


__all__ = [
    "BitbucketEventSource",
    "BitbucketServerEventSource",
    "GenericEventSource",
    "GithubEventSource",
    "GitlabEventSource",
    "SNSEventSource",
    "SlackEventSource",
    "StorageGridEventSource",
    "StripeEventSource",
    "WebhookEventSource",
]
