"""HTTP in: the JSON/CSV reports for managers, and the dashboard page."""

from bpo_reporting.routes.dashboard import router as dashboard_router
from bpo_reporting.routes.reports import router as reports_router

routers = [reports_router, dashboard_router]
