# Zhiku production image: gunicorn (config/gunicorn.conf.py) serving Django,
# static files by whitenoise. See docs/deploy.md and docker-compose.yml.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt

RUN useradd --create-home --uid 10001 zhiku
COPY --chown=zhiku:zhiku . .

# collectstatic needs settings but no database and no real secret; the
# compressed, hashed files end up in the image so every replica serves the same.
RUN DJANGO_SECRET_KEY=build-only python manage.py collectstatic --noinput --verbosity 0 \
    && mkdir -p /app/var/media && chown -R zhiku:zhiku /app/var

USER zhiku
# Production from here on: DJANGO_SECRET_KEY and DJANGO_ALLOWED_HOSTS must be
# given at run time, or the container stops with a message naming the missing one.
ENV DJANGO_ENV=production \
    PORT=8000 \
    GUNICORN_BIND=0.0.0.0:8000
EXPOSE 8000
# The probe names an allowed host, or Django would answer 400 to "127.0.0.1".
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 CMD python -c "\
import os, urllib.request as r; \
host = os.environ['DJANGO_ALLOWED_HOSTS'].split(',')[0].strip().lstrip('.'); \
r.urlopen(r.Request('http://127.0.0.1:8000/healthz', headers={'Host': host}), timeout=4)"
CMD ["gunicorn", "config.wsgi", "-c", "config/gunicorn.conf.py"]
