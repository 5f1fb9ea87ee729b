from bpo_billing.models import metadata
from bpo_billing.settings import Settings
from bpo_common.migrations import run_migrations

run_migrations(metadata, Settings)
