"""Malleable's project package.

The Celery app (``malleable.celery``) is deliberately not imported here, as Celery's Django
guide would have it: the task modules (``checkers.tasks``, ``alarms.tasks``) import it, so
every process that sends or runs tasks has it, and ``celery --app malleable`` finds
``malleable.celery`` by itself; a process that only runs a checker (``manage.py
run_checker`` from cron) then never loads Celery and kombu.
"""
