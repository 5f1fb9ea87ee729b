"""When each job's last item was finished: the SLA outlook of a job with nothing left.

Revision ID: reporting_0012
Revises: reporting_0011
Create Date: 2026-12-20 09:00:00+00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "reporting_0012"
down_revision = "reporting_0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "job_fact", sa.Column("last_finished_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.execute(
        "UPDATE job_fact SET last_finished_at = finished.at FROM ("
        " SELECT job_id, max(coalesce(completed_at, rejected_at, erased_at)) AS at"
        " FROM item_fact GROUP BY job_id"
        ") AS finished WHERE finished.job_id = job_fact.job_id"
    )


def downgrade() -> None:
    op.drop_column("job_fact", "last_finished_at")
