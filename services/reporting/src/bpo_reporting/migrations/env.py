from bpo_common.migrations import run_migrations
from bpo_reporting.models import metadata
from bpo_reporting.settings import Settings

run_migrations(metadata, Settings)
