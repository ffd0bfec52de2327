# Zhiku production image: gunicorn serving Django, static files by whitenoise.
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

# collectstatic needs settings but no database and no real secret.
RUN DJANGO_SECRET_KEY=build-only python manage.py collectstatic --noinput --verbosity 0 \
    && mkdir -p /app/var/media && chown -R zhiku:zhiku /app/var

USER zhiku
ENV PORT=8000 GUNICORN_BIND=0.0.0.0:8000
EXPOSE 8000
CMD ["gunicorn", "config.wsgi", "-c", "config/gunicorn.conf.py"]
