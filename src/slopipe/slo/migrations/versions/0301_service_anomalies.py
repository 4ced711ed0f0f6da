"""Anomalies of service models: which service flagged them and which metrics drove them.

- anomalies.service: the service whose multivariate model flagged the row (NULL for the
  per-series model's anomalies). Such a row's `series` is `service/<name>`, a key no lake
  series can take, so the unique (series, timestamp) still holds.
- anomalies.top_metrics: JSON list of the service's series, most to blame first.

Revision ID: 0301
Revises: 0201
"""

import sqlalchemy as sa
from alembic import op

revision = "0301"
down_revision = "0201"


def upgrade() -> None:
    with op.batch_alter_table("anomalies") as batch:
        batch.add_column(sa.Column("service", sa.String(253), nullable=True))
        batch.add_column(sa.Column("top_metrics", sa.Text, nullable=True))
        batch.create_index("ix_anomalies_service", ["service"])


def downgrade() -> None:
    with op.batch_alter_table("anomalies") as batch:
        batch.drop_index("ix_anomalies_service")
        batch.drop_column("top_metrics")
        batch.drop_column("service")
