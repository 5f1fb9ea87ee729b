"""HTTP routes of the validation service, one module per aggregate."""

from bpo_validation.routes import decisions, exceptions, jobs, quality, reference

routers = [jobs.router, decisions.router, quality.router, reference.router, exceptions.router]
