from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0006_message_unconfirmed_send"),
    ]

    operations = [
        migrations.AddField(
            model_name="message",
            name="sending_since",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
