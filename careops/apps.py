from django.apps import AppConfig


class CareopsConfig(AppConfig):
    name = "careops"
    verbose_name = "CareOps platform"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from careops import pgtime, receivers, rls  # noqa: F401

        connection_created.connect(
            lambda sender, connection, **kwargs: rls.install(connection),
            weak=False,
            dispatch_uid="careops.rls.install",
        )
        connection_created.connect(
            lambda sender, connection, **kwargs: pgtime.install(connection),
            weak=False,
            dispatch_uid="careops.pgtime.install",
        )
