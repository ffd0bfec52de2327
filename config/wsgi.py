import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

application = get_wsgi_application()

# Search's word segmenter and character tables, loaded before gunicorn forks its workers.
from qa.search.tokenize import warm_up  # noqa: E402 - needs the configured app above

warm_up()
