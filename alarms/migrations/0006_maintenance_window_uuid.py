import uuid

from django.db import migrations, models


def name_each_window(apps, schema_editor):
    """One UUID per existing window: a field default would give them all the same one."""
    MaintenanceWindow = apps.get_model("alarms", "MaintenanceWindow")
    for window in MaintenanceWindow.objects.filter(uuid__isnull=True).only("pk"):
        window.uuid = uuid.uuid4()
        window.save(update_fields=["uuid"])


class Migration(migrations.Migration):
    dependencies = [("alarms", "0005_late_event_kind")]

    operations = [
        migrations.AddField(
            model_name="maintenancewindow", name="uuid", field=models.UUIDField(null=True, editable=False)
        ),
        migrations.RunPython(name_each_window, migrations.RunPython.noop),
    ]
