"""Row-level security on the inbox notices (careops.rls explains the scheme; careops 0003 made
the functions the policies call)."""

from django.db import migrations

from careops import rls


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0008_inbox_notice"),
        ("careops", "0003_row_level_security"),
    ]

    operations = [rls.policies_operation("messaging_inboxnotice")]
