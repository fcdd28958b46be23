from contextvars import ContextVar

from django.dispatch import Signal

# Sent inside the transaction that records a run, with ``checker`` and ``run``: whatever a
# receiver writes (alarm state, transitions, the notification outbox) commits or rolls back
# together with the run.
run_recorded = Signal()

# Sent after a run committed by a process that has no worker behind it (``run_checker``):
# receivers deliver what the run queued before the process exits, instead of leaving it to
# the periodic sweep.
deliveries_requested = Signal()

# Asked with ``checker`` by ``run_checker``: each receiver answers how many of the checker's
# alarms are still waiting to be delivered (their channel failing or disabled).
alarms_held = Signal()

# True while a process delivers what its runs create itself (``run_checker``, which has no
# worker behind it): receivers then queue no task for a worker that may never come.
delivering_in_process: ContextVar[bool] = ContextVar("delivering_in_process", default=False)
