# CareOps production image: gunicorn serving Django; the same image runs the worker and beat.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DEBUG=false

WORKDIR /app

# Dependencies first (from pyproject.toml, with stub packages), so code changes do not
# reinstall them; the code itself runs from /app.
COPY pyproject.toml ./
RUN mkdir -p careops workspaces && touch careops/__init__.py workspaces/__init__.py \
    && pip install . && pip uninstall -y careops && rm -rf careops workspaces build *.egg-info

COPY . .
RUN SECRET_KEY=build-only-collectstatic-key-not-used-at-runtime-0123456789 \
       python manage.py collectstatic --noinput \
    && useradd --create-home --uid 10001 careops \
    && mkdir -p /app/var/media && chown -R careops:careops /app/var

USER careops
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4).status != 200)"

CMD ["sh", "-c", "exec gunicorn careops.wsgi:application --bind 0.0.0.0:8000 --workers ${WEB_CONCURRENCY:-3} --timeout 30 --forwarded-allow-ips='*' --access-logfile -"]
