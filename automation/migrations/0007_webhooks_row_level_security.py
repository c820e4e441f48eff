"""Row-level security on the webhook tables (careops.rls explains the scheme; careops 0003 made
the functions the policies call)."""

from django.db import migrations

from careops import rls


class Migration(migrations.Migration):
    dependencies = [
        ("automation", "0006_webhooks"),
        ("careops", "0003_row_level_security"),
    ]

    operations = [rls.policies_operation("automation_webhookendpoint", "automation_webhookdelivery")]
