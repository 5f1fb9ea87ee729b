from bpo_common.migrations import run_migrations
from bpo_intake.models import metadata
from bpo_intake.settings import Settings

run_migrations(metadata, Settings)
