from contextvars import ContextVar

from django.dispatch import Signal

# Sent inside the transaction that records a run, with ``checker``, ``run`` and ``settled``:
# whatever a receiver writes (alarm state, transitions, the notification outbox) commits or rolls
# back together with the run. ``settled`` is True for a run written in one statement with the
# answers of ``run_settling`` (below): then the run is already committed, and a receiver that
# answered has nothing left to do.
run_recorded = Signal()

# Asked with ``checker``, ``run`` (its fields set, not yet written) and ``checker_id`` before a
# run that a worker took is recorded on PostgreSQL. A receiver answers with what settles its part
# of the run when the run changes nothing but counters: an UPDATE and its parameters, which
# returns a row (``RETURNING``) only when it matched and names the checker as ``checker_id``
# (SQL in place of a parameter, which locks the checker's row first, as the transaction of
# ``run_recorded`` does), or None when it cannot settle this run. When every receiver answers,
# ``checkers.runs.record`` writes the run, the checker's last run and the answers in one
# statement, all of it or none: one round trip instead of a transaction's three.
run_settling = Signal()

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
