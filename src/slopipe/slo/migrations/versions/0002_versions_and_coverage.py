"""SLO versions say which format they came from; evaluations keep coverage and objective.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    with op.batch_alter_table("slo_versions") as batch:
        batch.add_column(
            sa.Column("source_format", sa.String(32), nullable=False, server_default="openslo")
        )
    with op.batch_alter_table("evaluations") as batch:
        batch.add_column(sa.Column("objective_ratio", sa.Float, nullable=True))
        batch.add_column(sa.Column("coverage", sa.Float, nullable=True))
    op.create_index("ix_evaluations_name_version", "evaluations", ["name", "version"])


def downgrade() -> None:
    op.drop_index("ix_evaluations_name_version", table_name="evaluations")
    with op.batch_alter_table("evaluations") as batch:
        batch.drop_column("coverage")
        batch.drop_column("objective_ratio")
    with op.batch_alter_table("slo_versions") as batch:
        batch.drop_column("source_format")
