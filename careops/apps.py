from django.apps import AppConfig


class CareopsConfig(AppConfig):
    name = "careops"
    verbose_name = "CareOps platform"

    def ready(self) -> None:
        from careops import receivers  # noqa: F401
