from bpo_common.migrations import run_migrations
from bpo_validation.models import metadata
from bpo_validation.settings import Settings

run_migrations(metadata, Settings)
