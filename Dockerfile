# One image for all four services; the command picks the service:
#   bpo migrate <service> | bpo serve <service> | bpo keys --dir DIR | bpo token ...

FROM python:3.11-slim AS build

ENV UV_PROJECT_ENVIRONMENT=/app/.venv \
    UV_PYTHON_DOWNLOADS=never \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

ARG UV_VERSION=0.13.9
RUN pip install "uv==${UV_VERSION}"

WORKDIR /app

# Third-party dependencies first, so code changes do not reinstall them.
COPY pyproject.toml uv.lock ./
COPY libs/common/pyproject.toml libs/common/
COPY libs/devtools/pyproject.toml libs/devtools/
COPY tools/cli/pyproject.toml tools/cli/
COPY services/intake/pyproject.toml services/intake/
COPY services/validation/pyproject.toml services/validation/
COPY services/billing/pyproject.toml services/billing/
COPY services/reporting/pyproject.toml services/reporting/
RUN uv sync --frozen --no-dev --no-install-workspace

# The workspace packages are installed from the source tree kept in /app, so each
# service's alembic.ini and migrations/ stay next to its package.
COPY . .
RUN uv sync --frozen --no-dev \
    && python -m compileall -q libs tools services


FROM python:3.11-slim

ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1

# Intake's OCR of scanned pages: Tesseract with its English and German models.
RUN apt-get update \
    && apt-get install -y --no-install-recommends tesseract-ocr tesseract-ocr-eng tesseract-ocr-deu \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 bpo \
    && useradd --system --uid 10001 --gid bpo --home-dir /home/bpo --create-home bpo \
    && mkdir /keys /public-keys /documents && chown bpo:bpo /keys /public-keys /documents

COPY --from=build /app /app
WORKDIR /app

USER 10001:10001
EXPOSE 8001 8002 8003 8004
CMD ["bpo", "--help"]
