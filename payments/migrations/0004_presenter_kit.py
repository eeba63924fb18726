"""The presenter kit: the payer's phone token, the approval mode, the phone and reset events.

Existing payments get a token each (a column default would give every row the same one).
"""

from django.db import migrations, models

import payments.models


def fill_tokens(apps, schema_editor):
    Payment = apps.get_model("payments", "Payment")
    for payment in Payment.objects.filter(approval_token__isnull=True).only("pk").iterator():
        Payment.objects.filter(pk=payment.pk).update(approval_token=payments.models.new_approval_token())


class Migration(migrations.Migration):
    dependencies = [("payments", "0003_momo")]

    operations = [
        migrations.AddField(
            model_name="payment",
            name="approval_token",
            field=models.CharField(max_length=32, null=True, editable=False),
        ),
        migrations.RunPython(fill_tokens, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="payment",
            name="approval_token",
            field=models.CharField(
                max_length=32, unique=True, default=payments.models.new_approval_token, editable=False
            ),
        ),
        migrations.AddField(
            model_name="simulatorsettings",
            name="approval_mode",
            field=models.CharField(
                max_length=8, choices=[("timer", "Timer"), ("phone", "Phone")], default="timer"
            ),
        ),
        migrations.AlterField(
            model_name="paymentlog",
            name="event",
            field=models.CharField(
                max_length=16,
                # Every event the model knows: a later migration that adds one lists them all anyway.
                choices=payments.models.PaymentLog.Event.choices,
            ),
        ),
    ]
