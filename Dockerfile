# One image for every guanai service (docker-compose.yml builds it once as guanai:local).
# The build stage installs the locked dependencies and guanai itself (not editable, so
# everything is compiled to bytecode at build time); the final stage holds only that
# environment and runs as an unprivileged user. Tests and benchmarks are not in it.

FROM python:3.11-slim AS build
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv
RUN pip install --no-cache-dir uv==0.13.9
WORKDIR /src
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --locked --no-dev --no-install-project
COPY guanai ./guanai
COPY bot ./bot
COPY workers ./workers
COPY domain ./domain
COPY migrations ./migrations
RUN uv sync --locked --no-dev --no-editable

FROM python:3.11-slim
RUN groupadd --system --gid 10001 guanai \
    && useradd --system --uid 10001 --gid guanai --create-home --home-dir /home/guanai \
       --shell /usr/sbin/nologin guanai \
    && mkdir -p /app/media /app/matrix-store \
    && chown guanai:guanai /app/media /app/matrix-store
COPY --from=build /app/.venv /app/.venv
ENV PATH="/app/.venv/bin:$PATH" PYTHONUNBUFFERED=1 MEDIA_DIR=/app/media \
    MATRIX_STORE_DIR=/app/matrix-store \
    MPLCONFIGDIR=/home/guanai/.cache/matplotlib
WORKDIR /app
USER guanai
# the CJK font comes with the dependencies: check it is there, and build matplotlib's
# font cache now rather than at every start
RUN python -c "from bot.charts import cjk_font; cjk_font()"
STOPSIGNAL SIGTERM
CMD ["guanai", "run"]
