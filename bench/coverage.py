"""Does everything stored reach the reader? For a filled database (an import or bench.scale):

* the sitemap index and every section it lists: each published question, tag with a
  published question, and published resource has exactly one URL, and no section
  holds more than 50,000;
* the API's question list counts every published question;
* search finds a sample of questions by their own titles.

    DATABASE_URL=sqlite:///path/to/db.sqlite3 .venv/bin/python -m bench.coverage

Prints one line per check and exits non-zero when one fails (not part of make test:
at a million questions it reads every sitemap section, about a minute).
"""

import os
import random
import re
import sys
import time
from pathlib import Path

LOC = re.compile(r"<loc>([^<]+)</loc>")


def main() -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "testserver")
    os.environ.setdefault("ZHIKU_RATELIMIT", "off")
    import django

    django.setup()
    from django.test import Client

    from qa.models import Question, Tag
    from qa.search import search
    from resources.models import Resource

    client = Client()
    failures = 0

    def check(ok: bool, text: str) -> None:
        nonlocal failures
        failures += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {text}", flush=True)

    start = time.perf_counter()
    index = client.get("/sitemap.xml").content.decode()
    sections = LOC.findall(index)
    urls: list[str] = []
    largest = 0
    for section in sections:
        path = section.split("://", 1)[-1].split("/", 1)[-1]
        found = LOC.findall(client.get("/" + path).content.decode())
        largest = max(largest, len(found))
        urls += found
    published = Question.objects.published()
    expected = {
        "questions": published.count(),
        "tags": Tag.objects.with_published_questions().count(),
        "resources": Resource.objects.filter(is_published=True).count(),
    }
    seconds = time.perf_counter() - start
    by_kind = {
        "questions": sum("/questions/" in url for url in urls),
        "tags": sum("/tags/" in url for url in urls),
        "resources": sum("/resources/" in url for url in urls),
    }
    for kind, count in expected.items():
        check(by_kind[kind] == count, f"sitemap {kind}: {by_kind[kind]:,} URLs for {count:,} published")
    check(len(urls) == len(set(urls)), f"sitemap: {len(urls):,} URLs, {len(set(urls)):,} distinct")
    check(
        largest <= 50_000,
        f"sitemap: {len(sections)} sections, the largest {largest:,} URLs ({seconds:.0f} s)",
    )

    total = client.get("/api/questions/").json()["count"]
    check(total == expected["questions"], f"API list: count {total:,}")

    ids = list(published.values_list("pk", flat=True).order_by("pk")[:: max(1, expected["questions"] // 500)])
    sample = random.Random(7).sample(ids, min(20, len(ids)))
    found = 0
    for question in Question.objects.filter(pk__in=sample):
        found += question.pk in [q.pk for q in search(question.title).questions()[:10]]
    check(found == len(sample), f"search by title: {found} of {len(sample)} sampled questions in the top 10")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
