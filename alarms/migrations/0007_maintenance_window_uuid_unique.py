import uuid

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("alarms", "0006_maintenance_window_uuid")]

    operations = [
        migrations.AlterField(
            model_name="maintenancewindow",
            name="uuid",
            field=models.UUIDField(
                default=uuid.uuid4, editable=False, help_text="Its name in the API.", unique=True
            ),
        ),
    ]
