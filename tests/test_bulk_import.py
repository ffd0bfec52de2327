"""The bulk importer (qa.bulk) leaves what a save of each question would leave,
in one transaction or in committed chunks, with its rendering in worker processes."""

import io
import json
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.utils import timezone
from opencc import OpenCC
from reversion.models import Version

from qa import bulk, freshness, history, workers
from qa.importing import ImportInterrupted, import_content
from qa.management.commands.import_content import Progress
from qa.models import (
    PendingPublication,
    Question,
    RelatedQuestion,
    SearchDocument,
    SearchTerm,
    SynonymGroup,
    Tag,
)
from qa.search import meaning, search, tokenize
from qa.search.index import published_sources, rebuild_index
from tests.conftest import make_question, make_tag

pytestmark = pytest.mark.django_db


def write(tmp_path, questions, name="content.json"):
    path = tmp_path / name
    path.write_text(json.dumps({"questions": questions}, ensure_ascii=False), encoding="utf-8")
    return path


def many(n: int, *, prefix: str = "q") -> list[dict]:
    """``n`` questions, each linked to the one before it, with code, a footnote and two tags."""
    questions = [
        {
            "key": f"{prefix}{i}",
            "title": f"如何用 Python 处理第 {i} 张灰度图像",
            "question": f"第 {i} 个问题的**细节**。",
            "answer": f"## 做法\n\n先反色[^n]：\n\n```python\nprint({i})\n```\n\n[^n]: T = 255 − S，{i}。\n",
            "tags": ["Python", "图像处理" if i % 3 else "灰度"],
            "related": [f"{prefix}{i - 1}"] if i else [],
            "views": i,
        }
        for i in range(n)
    ]
    for question in questions[::2]:
        del question["question"]
    return questions


def index_snapshot():
    documents = sorted(
        SearchDocument.objects.values_list("question_id", "title_tokens", "body_tokens", "title_initials")
    )
    terms = dict(SearchTerm.objects.values_list("term", "df"))
    return documents, terms


@pytest.fixture
def in_workers(monkeypatch):
    """Render through the process pool however few questions a test imports."""
    monkeypatch.setattr(workers, "PARALLEL_FROM", 1)


def test_bulk_import_stores_what_a_save_of_each_would(tmp_path, in_workers):
    make_tag("python")  # an existing tag matched case-insensitively
    import_content(path=write(tmp_path, many(30)), workers=2)
    questions = Question.objects.order_by("key")
    assert questions.count() == 30
    for question in questions:
        stored = (question.body_html, question.answer_html, question.answer_toc_html, question.excerpt)
        assert stored == question.rendered()
        assert question.answer_updated == question.created
        assert 'class="highlight"' in question.answer_html and "footnote" in question.answer_html
    assert Tag.objects.filter(name__iexact="python").count() == 1
    # The index written in bulk is the one a rebuild from the stored rows makes.
    bulk_index = index_snapshot()
    rebuild_index(published_sources(), synonym_groups=SynonymGroup.objects.count())
    assert index_snapshot() == bulk_index
    q7 = Question.objects.get(key="q7")
    assert list(
        RelatedQuestion.objects.filter(from_question=q7).values_list("to_question__key", flat=True)
    ) == ["q6"]
    assert q7 in search("第 7 张灰度图像").questions()[:5]


def test_each_question_gets_one_version_and_an_unchanged_reimport_none(tmp_path, in_workers):
    path = write(tmp_path, many(5), name="batch.json")
    import_content(path=path, workers=2)
    question = Question.objects.get(key="q3")
    (version,) = history.versions_of(question)
    assert history.author(version) == "import: batch.json"
    assert sorted(version.field_dict["tags"]) == sorted(question.tags.values_list("pk", flat=True))
    assert version.field_dict["title"] == question.title

    import_content(path=path, workers=2)
    assert Version.objects.get_for_model(Question).count() == 5
    changed = many(5)
    changed[3]["title"] = "改过的标题"
    import_content(path=write(tmp_path, changed, name="batch.json"), workers=2)
    assert history.versions_of(question).count() == 2
    assert Version.objects.get_for_model(Question).count() == 6


def test_an_update_keeps_what_the_file_leaves_out_and_moves_answer_updated(tmp_path):
    tag = make_tag("数据库")
    stored = make_question(key="old", title="旧标题", body="旧的细节", answer="旧回答", tags=[tag], views=9)
    created = stored.created
    import_content(path=write(tmp_path, [{"key": "old", "title": "新标题", "answer": "新回答"}]))
    stored.refresh_from_db()
    assert (stored.title, stored.body, stored.views) == ("新标题", "旧的细节", 9)
    assert list(stored.tags.all()) == [tag]
    assert stored.answer_updated > created
    assert "新回答" in stored.answer_html and "旧的细节" in stored.body_html
    assert stored in search("新标题").questions()[:5]


def test_drafts_leave_the_index_and_scheduled_ones_move_the_version_at_their_time(tmp_path):
    make_question(key="gone", title="即将下线的问题", answer="回答")
    later = timezone.now() + timedelta(days=1)
    before = freshness.current()
    import_content(path=write(tmp_path, [
        {"key": "gone", "title": "即将下线的问题", "answer": "回答", "published": False},
        {"key": "soon", "title": "定时发布的问题", "answer": "回答", "publish_at": later.isoformat()},
    ]))  # fmt: skip
    assert freshness.current() > before
    assert not SearchDocument.objects.filter(question__key="gone").exists()
    assert PendingPublication.objects.filter(at=later).exists()
    assert Question.objects.get(key="soon") not in Question.objects.published()


def test_chunked_import_commits_each_chunk_links_across_them_and_reruns_in_place(tmp_path):
    path = write(tmp_path, many(7))
    summary = import_content(path=path, chunk=3)
    assert (summary.questions_created, summary.questions_updated) == (7, 0)
    q0, q6 = Question.objects.get(key="q0"), Question.objects.get(key="q6")
    assert RelatedQuestion.objects.get(from_question=Question.objects.get(key="q3")).to_question.key == "q2"
    assert q6.pk and q0.pk
    documents = index_snapshot()

    again = import_content(path=path, chunk=3)
    assert (again.questions_created, again.questions_updated) == (0, 7)
    assert Question.objects.count() == 7 and RelatedQuestion.objects.count() == 6
    assert index_snapshot() == documents
    assert Version.objects.get_for_model(Question).count() == 7


def test_a_fault_in_a_chunk_keeps_the_chunks_before_it_and_a_rerun_finishes(tmp_path, monkeypatch):
    path = write(tmp_path, many(7))
    real, calls = bulk.write_questions, []

    def failing_second_chunk(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise OSError("disk full")
        return real(*args, **kwargs)

    monkeypatch.setattr(bulk, "write_questions", failing_second_chunk)
    with pytest.raises(ImportInterrupted) as failure:
        import_content(path=path, chunk=3)
    assert (failure.value.committed, failure.value.total) == (3, 7)
    assert "Run the same command again" in str(failure.value)
    assert sorted(Question.objects.values_list("key", flat=True)) == ["q0", "q1", "q2"]

    monkeypatch.setattr(bulk, "write_questions", real)
    import_content(path=path, chunk=3)
    assert Question.objects.count() == 7 and RelatedQuestion.objects.count() == 6


def test_a_bad_file_writes_nothing_in_chunked_mode_either(tmp_path):
    questions = many(5)
    questions[4]["related"] = ["nobody"]
    with pytest.raises(CommandError, match='unknown key "nobody"'):
        call_command("import_content", str(write(tmp_path, questions)), "--chunk", "2")
    assert not Question.objects.exists()


def test_big_imports_leave_embeddings_to_the_background_command(tmp_path, monkeypatch, settings):
    settings.ZHIKU_SEMANTIC_SEARCH = True
    monkeypatch.setattr("qa.importing.BULK_EMBEDDINGS", 3)
    monkeypatch.setattr(meaning, "enabled", lambda: True)
    out = io.StringIO()
    call_command("import_content", str(write(tmp_path, many(3))), stdout=out)
    assert "Embeddings deferred for 3 question(s)" in out.getvalue()


def test_the_progress_bar_counts_and_ends_its_line():
    out = io.StringIO()
    bar = Progress(out)
    bar(5, 20)
    bar(20, 20)
    text = out.getvalue()
    assert "5/20 (25%)" in text and "20/20 (100%)" in text and text.endswith("\n")
    assert text.count("\r") == 2


def test_the_command_refuses_a_chunk_below_one(tmp_path):
    with pytest.raises(CommandError, match="--chunk must be 1 or more"):
        call_command("import_content", str(write(tmp_path, many(1))), "--chunk", "0")


def test_the_recorder_matches_reversion_for_a_save(tmp_path):
    """A version written in bulk reads back like one django-reversion writes on a save."""
    import reversion

    question = make_question(tags=["python", "图像处理"])
    with reversion.create_revision():
        question.save()
    saved = history.versions_of(question).get()
    history.BulkRecorder("bulk").record([Question.objects.get(pk=question.pk)])
    assert history.versions_of(question).count() == 1  # the same data: no new version
    question.title = "换个标题"
    question.save()
    history.BulkRecorder("bulk").record([question])
    recorded = history.versions_of(question).first()
    assert recorded.field_dict == {**saved.field_dict, "title": "换个标题"}


@pytest.mark.parametrize(
    "text",
    ["簡體轉換測試", "答覆", "么麼小丑", "乾隆年間的乾燥天氣", "纯简体文本没有繁体", "mixed 電腦 text"],
)
def test_the_shortcut_of_to_simplified_changes_nothing(text):
    assert tokenize.to_simplified(text) == OpenCC("t2s").convert(text)


def test_every_entry_of_the_conversion_tables_converts_as_before():
    converter = OpenCC("t2s")
    keys = [key for group in converter._dict_chain_data for entry in group for key in entry[2]]
    assert len(keys) > 1000
    for key in keys:
        assert tokenize.to_simplified(key) == converter.convert(key), key


def _initials_of_whole_runs(text: str) -> str:
    """Title initials as pypinyin gives them for each whole run of Chinese characters."""
    from pypinyin import Style, lazy_pinyin

    runs = []
    for piece in tokenize._PIECE.finditer(text):
        word = piece.group()
        if tokenize._CJK_RUN.fullmatch(word):
            word = "".join(syllable[:1] for syllable in lazy_pinyin(word, style=Style.FIRST_LETTER))
        runs.append(word)
    return " ".join(run for run in runs if run)[:200]


def test_initials_phrase_by_phrase_equal_those_of_whole_runs():
    from pypinyin.constants import PHRASES_DICT

    demo = json.loads((settings.BASE_DIR / "qa" / "demo" / "demo.json").read_text(encoding="utf-8"))
    texts = [tokenize.normalize(f"{item['title']} {item['answer']}"[:400]) for item in demo["questions"]]
    # Phrases side by side, where a longest match could run across the joins, and heteronyms (重, 行, 长).
    phrases = list(PHRASES_DICT)[::19]
    texts += ["".join(phrases[k : k + 5]) for k in range(0, len(phrases), 5)]
    texts += ["重要的银行行长长大了", "重庆的重量", "音乐快乐"]
    assert len(texts) > 500
    for text in texts:
        assert tokenize.initials(text) == _initials_of_whole_runs(text), text


def test_embedding_shards_share_the_questions_out_between_processes(
    settings, django_capture_on_commit_callbacks
):
    from qa.models import QuestionEmbedding

    settings.ZHIKU_SEMANTIC_SEARCH = True
    with meaning.deferred():
        questions = [
            make_question(title=f"第 {i} 个关于梯度下降的问题", answer="调整学习率。") for i in range(4)
        ]
    out = io.StringIO()
    call_command("embed_questions", "--shard", "1/2", stdout=out)
    odd = {q.pk for q in questions if q.pk % 2 == 1}
    assert set(QuestionEmbedding.objects.values_list("question_id", flat=True)) == odd
    call_command("embed_questions", "--shard", "0/2", stdout=io.StringIO())
    assert QuestionEmbedding.objects.count() == 4
    with pytest.raises(CommandError, match="K must be at least 0 and below N"):
        call_command("embed_questions", "--shard", "2/2")
    with pytest.raises(CommandError, match="--shard takes K/N"):
        call_command("embed_questions", "--shard", "half")


def test_a_rebuild_in_workers_matches_one_in_this_process(tmp_path, in_workers, monkeypatch):
    from qa.search import index

    import_content(path=write(tmp_path, many(45)), workers=1)
    monkeypatch.setattr(index, "_CHUNK", 5)  # chunks of 20: the workers run one ahead of the writes
    assert rebuild_index(published_sources(), workers=1) == 45
    alone = index_snapshot()
    assert rebuild_index(published_sources(), workers=2, expected=45) == 45
    assert index_snapshot() == alone
