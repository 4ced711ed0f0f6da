"""Feedback on flagged anomalies: true or false positive, with a comment and an author.

Revision ID: 0101
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0101"
down_revision = "0002"

UTC_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "anomaly_feedback",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("series", sa.String(1000), nullable=False),
        sa.Column("timestamp", UTC_TIME, nullable=False),
        sa.Column("verdict", sa.String(16), nullable=False),
        sa.Column("comment", sa.Text, nullable=False, server_default=""),
        sa.Column("author", sa.String(200), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.CheckConstraint(
            "verdict IN ('true_positive', 'false_positive')", name="ck_feedback_verdict"
        ),
    )
    op.create_index("ix_feedback_series_timestamp", "anomaly_feedback", ["series", "timestamp"])


def downgrade() -> None:
    op.drop_index("ix_feedback_series_timestamp", "anomaly_feedback")
    op.drop_table("anomaly_feedback")
