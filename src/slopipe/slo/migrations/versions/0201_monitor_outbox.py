"""The monitor's state and the alert outbox's state machine.

- alerts: `identity` (hash of the label set: same labels, same Alertmanager alert), `state`
  (firing or resolved), `next_attempt_at` (when to post next: a retry after backoff, or the
  re-post of a firing alert) and `posted_at` (last successful post).
- monitor_state: small key/value facts that let a restarted monitor continue (last cycle).
- score_log: how many samples each scoring pass scored per series, written in the same
  transaction as the watermarks, so "no sample scored twice" can be checked.

Revision ID: 0201
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0201"
down_revision = "0101"

UTC_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("identity", sa.String(64), nullable=False, server_default=""))
        batch.add_column(sa.Column("state", sa.String(16), nullable=False, server_default="firing"))
        batch.add_column(sa.Column("next_attempt_at", UTC_TIME))
        batch.add_column(sa.Column("posted_at", UTC_TIME))
        batch.create_index("ix_alerts_identity_state", ["identity", "state"])
        batch.create_index("ix_alerts_status_next", ["status", "next_attempt_at"])
    op.create_table(
        "monitor_state",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("updated_at", UTC_TIME, nullable=False),
    )
    op.create_table(
        "score_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("series", sa.String(1000), nullable=False, index=True),
        sa.Column("scored_after", UTC_TIME, nullable=False),
        sa.Column("scored_until", UTC_TIME, nullable=False),
        sa.Column("samples", sa.Integer, nullable=False),
        sa.Column("model_version", sa.String(64), nullable=False),
        sa.Column("scored_at", UTC_TIME, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("score_log")
    op.drop_table("monitor_state")
    with op.batch_alter_table("alerts") as batch:
        batch.drop_index("ix_alerts_status_next")
        batch.drop_index("ix_alerts_identity_state")
        for column in ("posted_at", "next_attempt_at", "state", "identity"):
            batch.drop_column(column)
