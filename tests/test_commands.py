"""The management commands: load_demo (the demo content itself included) and rerender_markdown."""

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client

from qa.models import Question, Tag
from qa.transfer import read_content
from resources.models import Resource
from tests.conftest import make_question

pytestmark = pytest.mark.django_db

DEMO = Path(__file__).resolve().parent.parent / "qa" / "demo" / "demo.json"


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_demo_file_is_valid_and_covers_the_promised_ground():
    content, problems = read_content(DEMO)
    assert problems == []
    assert 15 <= len(content.questions) <= 18
    assert 3 <= len(content.resources) <= 5
    for item in content.resources:
        assert item.source.stat().st_size < 50 * 1024
    imaging = [q for q in content.questions if "图像处理" in (q.tags or [])]
    assert imaging, 'the imaging questions carry the tag "图像处理"'
    for item in content.questions:
        assert "```" in item.answer, f"{item.key} has a fenced code block"
        assert item.created is not None and 2024 <= item.created.year <= 2026
    assert any("[^1]" in q.answer for q in content.questions)
    assert any("|---" in q.answer or "| ---" in q.answer for q in content.questions)
    assert any(not name.isascii() for name in (r.name for r in content.resources))


def test_load_demo_fills_an_empty_database_and_pages_render(media_root):
    output = run("load_demo", str(DEMO))
    assert "loaded" in output

    document = json.loads(DEMO.read_text(encoding="utf-8"))
    assert Question.objects.count() == len(document["questions"])
    assert Resource.objects.count() == len(document["resources"])
    assert Tag.objects.filter(name="图像处理").exists()
    question = Question.objects.filter(related_links__isnull=False).distinct().first()
    response = Client().get(question.get_absolute_url())
    assert response.status_code == 200
    assert question.title in response.content.decode()


def test_demo_questions_are_searchable_right_after_loading(media_root):
    run("load_demo", str(DEMO))
    response = Client().get("/api/questions/", {"q": "直方图均衡"})
    assert response.status_code == 200
    titles = [result["title"] for result in response.json()["results"]]
    assert Question.objects.get(key="histogram-equalization").title in titles


def test_load_demo_leaves_a_database_with_questions_alone(media_root):
    make_question(title="站长写的第一个问题")
    output = run("load_demo", str(DEMO))
    assert "skipped" in output
    assert Question.objects.count() == 1
    assert Resource.objects.count() == 0


def test_load_demo_twice_keeps_edits(media_root):
    run("load_demo", str(DEMO))
    question = Question.objects.order_by("pk").first()
    question.title = "编辑过的标题"
    question.save()
    run("load_demo", str(DEMO))
    assert Question.objects.get(pk=question.pk).title == "编辑过的标题"
    assert Question.objects.count() == len(json.loads(DEMO.read_text(encoding="utf-8"))["questions"])


def test_rerender_markdown_rebuilds_stale_html(media_root, tmp_path):
    fresh = make_question(answer="**新**")
    stale = make_question(answer="# 标题\n\n正文 **加粗**")
    # Simulate HTML stored by an older pipeline.
    Question.objects.filter(pk=stale.pk).update(answer_html="<p>old</p>", excerpt="old")
    (tmp_path / "f.txt").write_text("x")
    (tmp_path / "c.json").write_text(
        json.dumps({"resources": [{"key": "r", "title": "R", "file": "f.txt", "description": "*说明*"}]})
    )
    run("import_content", str(tmp_path / "c.json"))
    Resource.objects.filter(key="r").update(description_html="", summary="")

    output = run("rerender_markdown")

    assert "2 questions (1 re-rendered)" in output
    assert "1 resources (1 re-rendered)" in output
    stale.refresh_from_db()
    assert "<strong>加粗</strong>" in stale.answer_html
    assert stale.excerpt.startswith("标题")
    assert Question.objects.get(pk=fresh.pk).answer_html == "<p><strong>新</strong></p>"
    assert "<em>说明</em>" in Resource.objects.get(key="r").description_html
