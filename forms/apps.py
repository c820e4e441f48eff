from django.apps import AppConfig


class FormsConfig(AppConfig):
    name = "forms"
    verbose_name = "Forms"

    def ready(self) -> None:
        from forms import links, onboarding  # noqa: F401
