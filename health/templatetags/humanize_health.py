from datetime import datetime

from django import template

from health.status import ago

register = template.Library()


@register.filter
def age(moment: datetime | None, now: datetime) -> str:
    return ago((now - moment).total_seconds()) if moment else "-"
