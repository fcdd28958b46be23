# Fewer than 42 users with a null e-mail — the seed checker, in Python, as the original
# prototype wrote it. `datasets`, `CheckerCase` and the rest are provided: nothing to import.
#
# Run:  python manage.py sandbox_run examples/python/few_null_emails.py \
#         --dataset users_with_email_null=examples/datasets/users_50.json
# ruff: noqa: F821

CheckerCase().assertLessThan(
    datasets["users_with_email_null"], 42, "There should be less than 42 users in that state"
)
