"""A submission's link is signed with the time its nonce was issued (link_issued_at), so the link
sent and the link shown are one string. Existing rows take updated_at: never earlier than their
last resend, so a link made again for them lives at least as long as the one sent."""

import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("forms", "0002_submission_open_due_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="formsubmission",
            name="link_issued_at",
            field=models.DateTimeField(default=django.utils.timezone.now, editable=False),
        ),
        migrations.RunSQL(
            "UPDATE forms_formsubmission SET link_issued_at = updated_at",
            reverse_sql=migrations.RunSQL.noop,
        ),
    ]
