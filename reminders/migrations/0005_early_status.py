import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('reminders', '0004_unknown_outcome'),
    ]

    operations = [
        migrations.CreateModel(
            name='EarlyStatus',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('provider', models.CharField(max_length=16)),
                ('message_id', models.CharField(max_length=64)),
                ('status', models.CharField(max_length=16)),
                ('error_code', models.CharField(blank=True, max_length=16)),
                ('received_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('applied_at', models.DateTimeField(blank=True, null=True)),
            ],
            options={
                'ordering': ['received_at', 'pk'],
                'indexes': [
                    models.Index(
                        condition=models.Q(('applied_at__isnull', True)),
                        fields=['provider', 'message_id'],
                        name='early_status_waiting',
                    )
                ],
            },
        ),
    ]
