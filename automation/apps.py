from django.apps import AppConfig


class AutomationConfig(AppConfig):
    name = "automation"
    verbose_name = "Automation"

    def ready(self) -> None:
        from automation import handlers, links, receivers  # noqa: F401
