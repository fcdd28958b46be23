"""A rule checker holds rules of its own (a suite); each former rule_* checker keeps its rule as the first."""

import django.db.models.deletion
from django.db import migrations, models


RULE_FIELDS = {
    "dataset_id": "rule_dataset_id",
    "metric": "rule_metric",
    "column": "rule_column",
    "op": "rule_op",
    "value": "rule_value",
    "high": "rule_value_high",
    "message": "rule_message",
}


def move_rules(apps, schema_editor):
    Checker = apps.get_model("checkers", "Checker")
    CheckerRule = apps.get_model("checkers", "CheckerRule")
    rule_checkers = Checker.objects.filter(rule_dataset__isnull=False).values("pk", *RULE_FIELDS.values())
    CheckerRule.objects.bulk_create(
        CheckerRule(
            checker_id=row["pk"],
            position=0,
            **{field: row[old] for field, old in RULE_FIELDS.items()},
        )
        for row in rule_checkers
        if row["rule_value"] is not None and row["rule_op"]
    )


def restore_rules(apps, schema_editor):
    Checker = apps.get_model("checkers", "Checker")
    CheckerRule = apps.get_model("checkers", "CheckerRule")
    for rule in CheckerRule.objects.filter(position=0):
        Checker.objects.filter(pk=rule.checker_id).update(
            **{old: getattr(rule, field) for field, old in RULE_FIELDS.items()}
        )


class Migration(migrations.Migration):

    dependencies = [
        ('checkers', '0003_checker_tags'),
    ]

    operations = [
        migrations.CreateModel(
            name='CheckerRule',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('position', models.PositiveSmallIntegerField(default=0, help_text='Rules run and report in this order.')),
                ('metric', models.CharField(choices=[('row_count', 'Row count'), ('scalar', 'First cell (scalar)'), ('sum', 'Sum of a column'), ('min', 'Minimum of a column'), ('max', 'Maximum of a column'), ('avg', 'Average of a column'), ('null_count', 'Nulls in a column'), ('distinct_count', 'Distinct values in a column'), ('duplicate_count', 'Repeated values in a column'), ('freshness', "Seconds since a column's newest time")], default='row_count', max_length=16, verbose_name='measure')),
                ('column', models.CharField(blank=True, help_text='For the measures of a column.', max_length=200)),
                ('op', models.CharField(choices=[('<', '<'), ('<=', '<='), ('>', '>'), ('>=', '>='), ('==', '=='), ('!=', '!='), ('between', 'between')], default='<', max_length=8, verbose_name='must be')),
                ('value', models.FloatField()),
                ('high', models.FloatField(blank=True, help_text='The upper bound, for between.', null=True, verbose_name='and at most')),
                ('message', models.CharField(blank=True, help_text='Said with every verdict, e.g. There should be less than 42 users in that state.', max_length=500)),
                ('checker', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='rules', to='checkers.checker')),
                ('dataset', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='rules', to='checkers.dataset')),
            ],
            options={
                'ordering': ['checker', 'position', 'pk'],
            },
        ),
        migrations.RunPython(move_rules, restore_rules),
        migrations.RemoveField(
            model_name='checker',
            name='rule_column',
        ),
        migrations.RemoveField(
            model_name='checker',
            name='rule_dataset',
        ),
        migrations.RemoveField(
            model_name='checker',
            name='rule_message',
        ),
        migrations.RemoveField(
            model_name='checker',
            name='rule_metric',
        ),
        migrations.RemoveField(
            model_name='checker',
            name='rule_op',
        ),
        migrations.RemoveField(
            model_name='checker',
            name='rule_value',
        ),
        migrations.RemoveField(
            model_name='checker',
            name='rule_value_high',
        ),
    ]
