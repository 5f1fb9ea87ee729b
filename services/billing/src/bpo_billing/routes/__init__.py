"""HTTP routes of the billing service, one module per aggregate; `routers` is what the app
mounts."""

from fastapi import APIRouter

from bpo_billing.routes import earnings, invoices, jobs, margin, price_books, usage

routers: list[APIRouter] = [
    jobs.router,
    price_books.router,
    usage.router,
    invoices.router,
    earnings.router,
    margin.router,
]
