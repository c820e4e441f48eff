from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "messaging"
    verbose_name = "Inbox and messaging"

    def ready(self) -> None:
        from messaging import links, onboarding, receivers  # noqa: F401
