from tests.alarms.conftest import _alarm_settings, queue_channel, rabbit, webhook  # noqa: F401
