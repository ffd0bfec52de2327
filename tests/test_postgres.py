"""Checks that only mean something on PostgreSQL (the suite's second run, .ci/postgres.sh).

On SQLite every test here is skipped with the reason (see tests/conftest.py).
"""

import threading

import pytest
from django.db import close_old_connections, connection

from qa.models import Question
from tests.conftest import make_question

pytestmark = [pytest.mark.postgres]


@pytest.mark.django_db
def test_database_is_utf8_with_a_utf8_ctype():
    """A C-ctype database would treat every Chinese character as an unknown byte sequence."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_encoding_to_char(encoding), datctype"
            " FROM pg_database WHERE datname = current_database()"
        )
        encoding, ctype = cursor.fetchone()
    assert encoding == "UTF8"
    assert ctype.lower().replace("-", "").endswith("utf8"), ctype


@pytest.mark.django_db
def test_case_folding_and_lengths_work_on_non_ascii_text():
    with connection.cursor() as cursor:
        cursor.execute("SELECT lower('ÄÖÜ PYTHON'), upper('straße'), char_length('知库 Zhiku')")
        lowered, uppered, length = cursor.fetchone()
    assert lowered == "äöü python"
    assert uppered.startswith("STRA")
    assert length == 8


@pytest.mark.django_db
def test_chinese_text_round_trips_and_matches_case_insensitively():
    question = make_question(title="如何用 Python 做灰度反色 😀", answer="ＡＢＣ 全角与 Ä")
    stored = Question.objects.get(pk=question.pk)
    assert stored.title == "如何用 Python 做灰度反色 😀"
    assert Question.objects.filter(title__icontains="PYTHON 做灰度").exists()
    assert Question.objects.filter(answer__icontains="ä").exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_view_counts_are_never_lost():
    """Many connections incrementing at once: every increment lands (F() update, no read-modify-write)."""
    question = make_question()
    threads, per_thread = 8, 25
    barrier = threading.Barrier(threads)
    errors = []

    def work():
        try:
            barrier.wait()
            for _ in range(per_thread):
                Question.objects.count_view(question.pk)
        except Exception as exc:  # surfaced below; a thread cannot fail the test itself
            errors.append(exc)
        finally:
            close_old_connections()
            connection.close()

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    question.refresh_from_db()
    assert question.views == threads * per_thread
