"""Version history (SPEC §5a): every admin save and import is a version; the admin lists
them, diffs any of them against the current text word by word, restores one as a new
version, and refuses a save on top of a version the editor never saw."""

import json
import re

import pytest
import reversion
from django.core import serializers
from django.test import Client
from django.utils import timezone
from reversion.models import Revision, Version

from qa import history
from qa.history.diff import split_words, word_diff
from qa.importing import import_content
from qa.models import QUESTION_HISTORY_FIELDS, Question
from resources.models import Resource
from tests.conftest import make_question

pytestmark = pytest.mark.django_db

CHANGE = "/admin/qa/question/{}/change/"
HISTORY = "/admin/qa/question/{}/history/"


def editor(users, name: str) -> Client:
    """A separate browser session of superuser ``name``."""
    client = Client()
    client.force_login(users.objects.create_superuser(name, f"{name}@example.com", None))
    return client


@pytest.fixture
def alice(django_user_model):
    return editor(django_user_model, "alice")


@pytest.fixture
def bob(django_user_model):
    return editor(django_user_model, "bob")


def form_data(question, edit_version=None, **changes) -> dict:
    """The question's change form as a browser would post it, with ``changes``."""
    created = timezone.localtime(question.created)
    data = {
        "title": question.title,
        "slug": question.slug,
        "key": question.key or "",
        "tags": [tag.pk for tag in question.tags.all()],
        "is_published": "on",
        "publish_at_0": "",
        "publish_at_1": "",
        "created_0": created.strftime("%Y-%m-%d"),
        "created_1": created.strftime("%H:%M:%S"),
        "body": question.body,
        "answer": question.answer,
        "related_links-TOTAL_FORMS": "0",
        "related_links-INITIAL_FORMS": "0",
        "recommendations-TOTAL_FORMS": "0",
        "recommendations-INITIAL_FORMS": "0",
        "figures-TOTAL_FORMS": "0",
        "figures-INITIAL_FORMS": "0",
    }
    if edit_version is not None:
        data["edit_version"] = str(edit_version)
    data.update(changes)
    return data


def opened_version(response) -> str:
    """The version stamp the change form carries."""
    return re.search(r'name="edit_version" value="(\d*)"', response.content.decode()).group(1)


def edit(client, question, **changes):
    stamp = opened_version(client.get(CHANGE.format(question.pk)))
    return client.post(CHANGE.format(question.pk), form_data(question, stamp, **changes))


# --- the word diff -------------------------------------------------------------------------------


def test_split_words_cuts_chinese_into_words_and_joins_back_exactly():
    text = "图像反色是一种常见的处理方法。Hello, world  pg_trgm!"
    pieces = split_words(text)
    assert "".join(pieces) == text
    assert "图像" in pieces and "反色" in pieces and "Hello" in pieces and "pg_trgm" in pieces


def test_word_diff_marks_whole_chinese_words_and_escapes_html():
    html = word_diff("把图像反色以后保存", "把图像灰度化以后保存 <script>")
    assert html.startswith("把图像<del>反色</del><ins>灰度化</ins>以后保存")
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert word_diff("same words", "same words") == "same words"


# --- versions from the admin and imports --------------------------------------------------------


def test_every_admin_save_is_a_version_with_its_author_and_changed_fields(alice):
    question = make_question(title="原来的标题", answer="原来的回答")
    assert edit(alice, question, title="新的标题").status_code == 302
    question.refresh_from_db()
    assert edit(alice, question, answer="新的回答", tags=[]).status_code == 302
    versions = list(history.versions_of(question))
    assert len(versions) == 2
    assert [history.author(v) for v in versions] == ["alice", "alice"]
    assert versions[0].field_dict["answer"] == "新的回答"
    page = alice.get(HISTORY.format(question.pk)).content.decode()
    assert "alice" in page and "2 个版本" in page
    rows = alice.get(HISTORY.format(question.pk)).context["rows"]
    assert "回答（Markdown）" in rows[0]["changed"] or any("回答" in name for name in rows[0]["changed"])
    assert not any("标题" in name for name in rows[0]["changed"])


def test_a_save_that_changes_no_tracked_field_adds_no_version(alice):
    question = make_question()
    edit(alice, question, title="改一次")
    question.refresh_from_db()
    edit(alice, question)
    assert history.versions_of(question).count() == 1


def test_an_import_is_recorded_with_its_file_as_author(tmp_path):
    path = tmp_path / "demo.json"
    path.write_text(
        json.dumps({"questions": [{"key": "k1", "title": "导入", "answer": "回答", "tags": ["python"]}]}),
        encoding="utf-8",
    )
    import_content(path=path)
    question = Question.objects.get(key="k1")
    (version,) = history.versions_of(question)
    assert history.author(version) == "import: demo.json"
    assert version.field_dict["tags"] == [question.tags.get().pk]


def test_admin_actions_are_versions_too(alice):
    question = make_question()
    selected = {"_selected_action": [question.pk], "index": "0"}
    alice.post("/admin/qa/question/", {"action": "unpublish", **selected})
    (version,) = history.versions_of(question)
    assert version.field_dict["is_published"] is False and history.author(version) == "alice"


# --- the history page -----------------------------------------------------------------------------


def _many_versions(question, n: int) -> None:
    """``n`` versions of ``question`` written directly (fast), oldest first."""
    with reversion.create_revision():
        question.save()
    template = Version.objects.get_for_object(question).get()
    revisions = Revision.objects.bulk_create(
        [Revision(date_created=timezone.now(), comment=f"edit {i}") for i in range(n)]
    )
    versions = []
    for i, revision in enumerate(revisions):
        question.title = f"第 {i} 版标题"
        data = serializers.serialize("json", [question], fields=QUESTION_HISTORY_FIELDS)
        versions.append(
            Version(
                revision=revision,
                object_id=template.object_id,
                content_type_id=template.content_type_id,
                db=template.db,
                format="json",
                serialized_data=data,
                object_repr=question.title,
            )
        )
    Version.objects.bulk_create(versions)


def test_hundreds_of_versions_are_paginated_in_few_queries(alice, django_assert_max_num_queries):
    question = make_question()
    _many_versions(question, 300)
    with django_assert_max_num_queries(12):
        response = alice.get(HISTORY.format(question.pk))
    assert response.status_code == 200
    assert len(response.context["rows"]) == 50
    assert "301 个版本" in response.content.decode()
    assert response.context["rows"][0]["changed"] == ["标题"]
    with django_assert_max_num_queries(12):
        last = alice.get(HISTORY.format(question.pk), {"p": 7})
    assert len(last.context["rows"]) == 1
    assert len(last.context["rows"][0]["changed"]) == len(QUESTION_HISTORY_FIELDS)  # the first version


def test_the_diff_page_shows_a_version_against_the_current_text_word_by_word(alice):
    question = make_question(title="反色", answer="把图像反色以后保存。")
    edit(alice, question, answer="把图像灰度化以后保存。<b>粗</b>")
    question.refresh_from_db()
    first = history.versions_of(question).get()
    edit(alice, question, answer="把图像反色以后保存。")
    response = alice.get(f"/admin/qa/question/{question.pk}/history/{first.pk}/diff/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "把图像<del>灰度化</del><ins>反色</ins>以后保存。<del>&lt;b&gt;粗&lt;/b&gt;</del>" in body
    assert "<b>粗</b>" not in body


def test_history_pages_carry_no_inline_script_or_style(alice):
    question = make_question()
    edit(alice, question, title="新")
    version = history.versions_of(question).get()
    for url in (HISTORY.format(question.pk), f"/admin/qa/question/{question.pk}/history/{version.pk}/diff/"):
        body = alice.get(url).content.decode()
        assert "history-diff" in body or "history-versions" in body
        assert " style=" not in _ours(body)
        assert "<script>" not in body


def _ours(body: str) -> str:
    """The part of an admin page our templates write."""
    return body.split('id="content-main"', 1)[1]


# --- restore --------------------------------------------------------------------------------------


def test_restore_puts_a_version_back_as_a_new_version(alice, client):
    question = make_question(title="第一版", answer="第一版回答", tags=["python"])
    edit(alice, question, title="第一版")  # the first recorded version
    question.refresh_from_db()
    first = history.versions_of(question).get()
    edit(alice, question, title="第二版", answer="第二版回答", tags=[])
    response = alice.post(f"/admin/qa/question/{question.pk}/history/{first.pk}/restore/")
    assert response.status_code == 302
    question.refresh_from_db()
    assert question.title == "第一版" and question.answer == "第一版回答"
    assert list(question.tags.values_list("name", flat=True)) == ["python"]
    assert "第一版回答" in question.answer_html
    versions = list(history.versions_of(question))
    assert len(versions) == 3
    assert versions[0].revision.comment.startswith("恢复了版本") or "Restored" in versions[0].revision.comment
    assert history.author(versions[0]) == "alice"
    assert "第一版回答" in client.get(question.get_absolute_url()).content.decode()


def test_restoring_a_version_of_another_question_changes_nothing(alice):
    mine = make_question(title="我的")
    other = make_question(title="别人的")
    edit(alice, other, title="别人的新标题")
    theirs = history.versions_of(other).get()
    edit(alice, mine, title="我的新标题")
    before = Version.objects.count()
    response = alice.post(f"/admin/qa/question/{mine.pk}/history/{theirs.pk}/restore/", follow=True)
    assert "属于另一个问题" in response.content.decode()
    mine.refresh_from_db()
    assert mine.title == "我的新标题"
    assert Version.objects.count() == before


def test_restoring_a_version_that_does_not_exist_is_a_clear_error(alice):
    question = make_question(title="原样")
    response = alice.post(f"/admin/qa/question/{question.pk}/history/999999/restore/", follow=True)
    assert "没有编号为 999999 的版本" in response.content.decode()
    assert Question.objects.get(pk=question.pk).title == "原样"


def test_restore_needs_post_and_the_csrf_token(django_user_model):
    question = make_question()
    with reversion.create_revision():
        question.save()
    version = history.versions_of(question).get()
    client = Client(enforce_csrf_checks=True)
    client.force_login(django_user_model.objects.create_superuser("c", "c@example.com", None))
    url = f"/admin/qa/question/{question.pk}/history/{version.pk}/restore/"
    assert client.get(url).status_code == 405
    assert client.post(url).status_code == 403


# --- no silent overwrite --------------------------------------------------------------------------


def test_a_save_on_top_of_a_newer_version_is_refused_and_keeps_the_editors_text(alice, bob):
    question = make_question(title="共同编辑", answer="最初的回答")
    url = CHANGE.format(question.pk)
    stamp_a = opened_version(alice.get(url))
    stamp_b = opened_version(bob.get(url))

    assert alice.post(url, form_data(question, stamp_a, answer="爱丽丝改写的回答")).status_code == 302

    refused = bob.post(url, form_data(question, stamp_b, answer="鲍勃改写的回答"))
    assert refused.status_code == 200
    body = refused.content.decode()
    assert "alice 在你打开之后" in body
    assert "<ins>爱丽丝" in body  # the other change, as a diff
    assert "鲍勃改写的回答</textarea>" in body  # the editor's text kept
    assert Question.objects.get(pk=question.pk).answer == "爱丽丝改写的回答"

    # Saving the returned form again is deliberate: it goes through, and both edits stay in the history.
    again = bob.post(url, form_data(question, opened_version(refused), answer="鲍勃改写的回答"))
    assert again.status_code == 302
    assert Question.objects.get(pk=question.pk).answer == "鲍勃改写的回答"
    answers = [v.field_dict["answer"] for v in history.versions_of(question)]
    assert answers == ["鲍勃改写的回答", "爱丽丝改写的回答"]


def test_after_reloading_the_form_a_save_goes_through(alice, bob):
    question = make_question(answer="最初")
    url = CHANGE.format(question.pk)
    stale = opened_version(bob.get(url))
    alice.post(url, form_data(question, opened_version(alice.get(url)), answer="爱丽丝"))
    assert bob.post(url, form_data(question, stale, answer="鲍勃")).status_code == 200
    question.refresh_from_db()
    assert bob.post(url, form_data(question, opened_version(bob.get(url)), answer="鲍勃")).status_code == 302
    assert Question.objects.get(pk=question.pk).answer == "鲍勃"


def test_a_restore_by_someone_else_also_counts_as_a_newer_version(alice, bob):
    question = make_question(answer="一")
    edit(alice, question, answer="二")
    question.refresh_from_db()
    first = history.versions_of(question).get()
    edit(alice, question, answer="三")
    question.refresh_from_db()
    url = CHANGE.format(question.pk)
    stamp = opened_version(bob.get(url))
    alice.post(f"/admin/qa/question/{question.pk}/history/{first.pk}/restore/")
    assert bob.post(url, form_data(question, stamp, answer="四")).status_code == 200
    assert Question.objects.get(pk=question.pk).answer == "二"


# --- resources ------------------------------------------------------------------------------------


def test_resources_keep_the_history_of_their_title_and_description(alice):
    from django.core.files.base import ContentFile

    resource = Resource(title="讲义", description="第一版说明")
    resource.file.save("notes.pdf", ContentFile(b"%PDF-1.4\n%%EOF\n"), save=False)
    with reversion.create_revision():
        resource.save()
    resource.description = "第二版说明"
    with reversion.create_revision():
        resource.save()
    versions = list(history.versions_of(resource))
    assert [v.field_dict["description"] for v in versions] == ["第二版说明", "第一版说明"]
    assert set(versions[0].field_dict) == {"title", "description"}
    page = alice.get(f"/admin/resources/resource/{resource.pk}/history/")
    assert page.status_code == 200 and "2 个版本" in page.content.decode()
    alice.post(f"/admin/resources/resource/{resource.pk}/history/{versions[1].pk}/restore/")
    resource.refresh_from_db()
    assert resource.description == "第一版说明"
    resource.file.delete(save=False)
