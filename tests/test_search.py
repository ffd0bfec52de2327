"""Search (SPEC §6): Chinese and English queries, both backends, hostile input, index upkeep."""

import pytest
from django.core.management import call_command
from django.db import connection
from django.urls import reverse

from qa import search
from qa.models import Question, SearchDocument, SearchTerm, Tag
from qa.search import tokenize
from qa.search.backends import backend
from qa.search.backends.reference import ReferenceBackend
from qa.search.index import DOCS
from tests.conftest import make_question

CORPUS = {
    "invert": {
        "title": "Python 如何对灰度图像做反色处理",
        "answer": "用 Pillow 把图片转换为灰度图像（`convert('L')`），再做反色运算 T = 255 − S 即可。",
        "tags": ["python", "图像处理"],
    },
    "pgtrgm": {
        "title": "PostgreSQL 的 pg_trgm 扩展能做什么",
        "answer": "pg_trgm 提供基于三元组的相似度匹配，可以给 LIKE 查询建立 GIN 索引。",
        "tags": ["postgresql"],
    },
    "fexpr": {
        "title": "Django 里 F() 表达式有什么用",
        "answer": "F() 让数据库直接引用字段的值，例如 views=F('views') + 1，避免并发丢失更新。",
        "tags": ["django"],
    },
    "bm25": {
        "title": "BM25 排序算法的原理",
        "answer": "BM25 根据词频和逆文档频率给文档打分，是全文检索里最常用的相关度模型。",
        "tags": ["搜索"],
    },
    "transformer": {
        "title": "Transformer 模型的成本函数是什么",
        "answer": "训练 Transformer 时常用交叉熵作为成本函数（损失函数），配合 label smoothing。",
        "tags": ["深度学习"],
    },
    "jieba": {
        "title": "中文分词工具 jieba 的三种模式",
        "answer": "jieba 支持精确模式、全模式和搜索引擎模式，搜索引擎模式会把长词再切分。",
        "tags": ["python", "中文"],
    },
    "redis": {
        "title": "Redis 缓存过期策略",
        "answer": "Redis 使用惰性删除和定期删除两种方式清理过期的键。",
        "tags": ["redis"],
    },
    "gin": {
        "title": "Gin 索引和 GiST 索引的区别",
        "answer": "GIN 倒排索引适合包含多个值的列，查询快但更新慢；GiST 是平衡树框架。",
        "tags": ["postgresql"],
    },
    "opencv": {
        "title": "OpenCV 读取图片后颜色不对",
        "answer": "OpenCV 默认按 BGR 顺序读取图片，需要 cvtColor 转换成 RGB 再显示。",
        "tags": ["python", "图像处理"],
    },
    "fts5": {
        "title": "SQLite FTS5 全文索引入门",
        "answer": "FTS5 是 SQLite 的全文检索扩展，用 MATCH 查询，bm25() 函数返回相关度。",
        "tags": ["sqlite", "搜索"],
    },
    "unicode": {
        "title": "Python 字符串编码 UnicodeDecodeError 怎么解决",
        "answer": "读取文件时指定 encoding='utf-8'，或者用 errors='replace' 忽略无法解码的字节。",
        "tags": ["python"],
    },
    "regex": {
        "title": "正则表达式匹配中文字符",
        "answer": "在 Python 中可以用 [\\u4e00-\\u9fff] 匹配常用汉字。",
        "tags": ["python", "中文"],
    },
    "docker": {
        "title": "Docker 容器时区设置",
        "answer": "在 Dockerfile 里设置 TZ 环境变量并安装 tzdata，容器时间就和上海时区一致。",
        "tags": ["docker"],
    },
    "gradient": {
        "title": "梯度下降为什么需要学习率衰减",
        "answer": "学习率过大时梯度下降会震荡，逐步衰减学习率能让模型收敛到更好的极小值。",
        "tags": ["深度学习"],
    },
    "nginx": {
        "title": "Nginx 反向代理 WebSocket 配置",
        "answer": "需要设置 proxy_http_version 1.1 以及 Upgrade 和 Connection 请求头。",
        "tags": ["nginx"],
    },
    "color": {
        "title": "彩色图片每个通道分别反相",
        "answer": "对 RGB 三个颜色通道分别计算 255 减去原值，alpha 通道保持不变。",
        "tags": ["图像处理"],
    },
}

# query -> key of the question that must be among the first three results.
QUERIES = [
    ("反色", "invert"),
    ("灰度图像", "invert"),
    ("灰度圖像", "invert"),  # traditional characters find simplified text
    ("Python灰度反色", "invert"),
    ("怎样用python把图片变成灰度再反色", "invert"),
    ("pg_trgm", "pgtrgm"),
    ("PG_TRGM 相似度", "pgtrgm"),
    ("F()", "fexpr"),
    ("f() 表达式", "fexpr"),
    ("bm25", "bm25"),
    ("Transformer成本函数", "transformer"),
    ("transformer", "transformer"),
    ("transfomer", "transformer"),  # typo
    ("jieba 分词", "jieba"),
    ("分詞", "jieba"),
    ("REDIS 过期", "redis"),
    ("倒排索引", "gin"),
    ("BGR", "opencv"),
    ("全文检索", "fts5"),
    ("UnicodeDecodeError", "unicode"),
    ("上海时区", "docker"),
    ("学习率", "gradient"),
    ("websocket nginx", "nginx"),
    ("通道", "color"),
    ("色", "invert"),
]

HOSTILE = [
    '"',
    "'",
    '"unclosed phrase',
    "*",
    "反色*",
    "NEAR(",
    "NEAR(a b",
    "AND",
    "OR NOT AND",
    "python AND NOT",
    "%",
    "_",
    "%_%",
    "\\",
    "\\\\' OR 1=1 --",
    "😀",
    "反色😀",
    "\x00",
    "a\x00b",
    "title:python",
    "{title}: x",
    "^python",
    "python:*",
    "'':A & !",
    "x" * 5000,
    "反色" * 2500,
    " ".join(f"w{i}" for i in range(2500)),
]


@pytest.fixture
def corpus(db):
    return {key: make_question(key=key, **fields) for key, fields in CORPUS.items()}


def keys_of(ids):
    by_pk = dict(Question.objects.filter(pk__in=ids).values_list("pk", "key"))
    return [by_pk[pk] for pk in ids]


@pytest.mark.parametrize(("query", "expected"), QUERIES)
def test_query_finds_its_question_in_top_three(corpus, query, expected):
    assert expected in keys_of(search.search(query).ids[:3])


@pytest.mark.parametrize(("query", "_expected"), QUERIES)
def test_backend_ranks_like_the_reference_matcher(corpus, query, _expected):
    """The FTS5 / tsvector answer equals the pure Python matcher's over the same tokens."""
    assert search.search(query).ids == search.search(query, engine=ReferenceBackend()).ids


def test_question_manager_searches_like_the_search_function(corpus):
    results = Question.objects.search("图片", tag=corpus["opencv"].tags.get(name="python"))
    assert results.ids == search.search("图片", tag=corpus["opencv"].tags.get(name="python")).ids
    assert [question.pk for question in results.questions()[:2]] == results.ids[:2]


def test_title_matches_rank_first(db):
    body_only = make_question(title="其他话题", answer="这里顺便提到了 pillow 库。")
    in_title = make_question(title="Pillow 安装失败", answer="升级 pip 后重装。")
    assert search.search("pillow").ids == [in_title.pk, body_only.pk]


def test_exact_word_is_not_disturbed_by_typo_correction(db):
    exact = make_question(title="transformer 结构", answer="注意力机制。")
    make_question(title="transformers 库", answer="Hugging Face 的库。")
    # An indexed word is matched exactly; close spellings stay out.
    assert search.search("transformer").ids == [exact.pk]
    # An unknown word is matched to the closest indexed spelling only.
    assert search.search("transfomer").ids == [exact.pk]


def test_typo_that_the_index_contains_also_finds_the_common_spelling(db):
    """A rare indexed word with a much more common close spelling is searched as both."""
    typo = make_question(title="pg_trgm 的相似度", answer="它能把 transfomer 这样的拼写找回来。")
    right = [
        make_question(title=f"Transformer 第 {n} 讲", answer="自注意力与位置编码。") for n in range(2)
    ] + [make_question(title="注意力机制", answer="Transformer 的核心是注意力。")]
    found = search.search("transfomer").ids
    # The word as typed still comes first; every question spelled right follows.
    assert found[0] == typo.pk
    assert set(found) == {typo.pk, *(question.pk for question in right)}
    assert found == search.search("transfomer", engine=ReferenceBackend()).ids
    # The common spelling is not widened to the rare one.
    assert typo.pk not in search.search("transformer").ids
    # Both spellings are highlighted.
    assert {"transfomer", "transformer"} <= set(search.search("transfomer").terms)


def test_rare_word_without_a_much_more_common_spelling_stays_exact(db):
    typo = make_question(title="拼写", answer="transfomer 出现一次。")
    make_question(title="Transformer 模型", answer="只有一篇。")
    make_question(title="Transformer 训练", answer="第二篇。")
    # Two documents are not "at least three", nor three times one.
    assert search.search("transfomer").ids == [typo.pk]


def test_unknown_words_give_an_empty_result(corpus):
    assert search.search("zzqxv").ids == []
    assert search.search("").ids == []


def test_words_that_are_not_all_present_still_find_the_closest(corpus):
    assert keys_of(search.search("Pillow 反色 火星").ids[:1]) == ["invert"]


def test_tag_filter_narrows_results(corpus):
    results = keys_of(search.search("图片", tag=corpus["opencv"].tags.get(name="python")).ids)
    assert "opencv" in results
    assert "color" not in results


def test_unpublished_question_disappears_and_returns(corpus):
    question = corpus["bm25"]
    question.is_published = False
    question.save()
    assert "bm25" not in keys_of(search.search("bm25").ids)
    question.is_published = True
    question.save(update_fields=["is_published"])
    assert keys_of(search.search("bm25").ids)[:1] == ["bm25"]


def test_unpublished_by_bulk_update_is_hidden_at_query_time(corpus):
    Question.objects.filter(key="bm25").update(is_published=False)
    assert "bm25" not in keys_of(search.search("bm25").ids)


def test_edit_replaces_old_words(corpus):
    question = corpus["redis"]
    question.title = "Memcached 内存淘汰"
    question.answer = "LRU 淘汰最久未使用的数据。"
    question.save()
    assert "redis" not in keys_of(search.search("过期策略").ids)
    assert keys_of(search.search("memcached").ids) == ["redis"]
    assert SearchTerm.objects.get(term="memcached").df == 1


def test_delete_removes_from_index_and_vocabulary(corpus):
    corpus["nginx"].delete()
    assert search.search("websocket").ids == []
    assert SearchTerm.objects.get(term="websocket").df == 0
    assert not SearchDocument.objects.filter(pk=corpus["nginx"].pk).exists()


def test_tag_change_is_indexed(corpus):
    question = corpus["docker"]
    question.tags.add(*[make_question(tags=["容器编排"]).tags.get()])
    assert corpus["docker"].pk in search.search("容器编排").ids
    question.tags.clear()
    assert corpus["docker"].pk not in search.search("容器编排").ids


def test_tag_rename_is_indexed(corpus):
    tag = corpus["nginx"].tags.get()
    tag.name = "openresty"
    tag.save()
    assert search.search("openresty").ids == [corpus["nginx"].pk]


def test_rebuild_command_repairs_a_damaged_index(corpus):
    SearchDocument.objects.all().delete()
    SearchTerm.objects.all().delete()
    with connection.cursor() as cursor:
        backend().clear(cursor)
    assert search.search("反色").ids == []
    call_command("rebuild_search_index", verbosity=0)
    assert keys_of(search.search("反色").ids)[:1] == ["invert"]
    assert SearchTerm.objects.get(term=DOCS).df == len(CORPUS)


def test_rebuilt_vocabulary_equals_incremental_vocabulary(corpus):
    corpus["redis"].delete()
    corpus["gin"].title = "GIN 索引的写入代价"
    corpus["gin"].save()
    incremental = dict(SearchTerm.objects.filter(df__gt=0).values_list("term", "df"))
    call_command("rebuild_search_index", verbosity=0)
    rebuilt = dict(SearchTerm.objects.values_list("term", "df"))
    assert incremental == rebuilt


@pytest.mark.django_db(transaction=True)
def test_index_survives_a_migration_that_rebuilds_the_question_table():
    from django.db import models

    question = make_question(title="迁移之后仍可搜索", answer="反色运算。")
    field = models.CharField("extra", max_length=10, default="", blank=True)
    field.set_attributes_from_name("search_probe")
    # Adding then removing a column makes SQLite copy the table (as AlterField does).
    with connection.schema_editor() as editor:
        editor.add_field(Question, field)
    with connection.schema_editor() as editor:
        editor.remove_field(Question, field)
    assert search.search("迁移").ids == [question.pk]
    assert search.search("反色").ids == [question.pk]


@pytest.mark.parametrize("query", HOSTILE)
def test_hostile_query_is_harmless(corpus, client, query):
    results = search.search(query)
    assert isinstance(results.ids, list)
    response = client.get(reverse("qa:search"), {"q": query[:2000]})
    assert response.status_code == 200
    api = client.get("/api/questions/", {"q": query[:2000]})
    # The API refuses what the page quietly cuts down: a NUL, or more than the 200 characters searched.
    refused = "\x00" in query or len(query.strip()) > 200
    assert api.status_code == (400 if refused else 200)
    assert api["Content-Type"] == "application/json"


def test_hostile_queries_still_find_what_they_name(corpus):
    assert keys_of(search.search('"反色"').ids)[:1] == ["invert"]
    assert keys_of(search.search("反色*").ids)[:1] == ["invert"]
    assert keys_of(search.search("NEAR(pg_trgm").ids)[:1] == ["pgtrgm"]


def test_search_page_shows_highlighted_snippets(corpus, client):
    response = client.get(reverse("qa:search"), {"q": "灰度圖像"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "<mark>灰度图像</mark>" in html
    assert corpus["invert"].get_absolute_url() in html


def test_search_page_escapes_content(db, client):
    make_question(title="<script>alert(1)</script> 反色", answer="反色 <b>x</b>")
    html = client.get(reverse("qa:search"), {"q": "反色"}).content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;" in html


def test_search_page_tag_filter_and_pagination(db, client):
    for n in range(25):
        make_question(title=f"分页测试 {n}", answer="分页内容。", tags=["分页"] if n % 2 else [])
    page1 = client.get(reverse("qa:search"), {"q": "分页"})
    assert page1.context["page_obj"].paginator.count == 25
    page2 = client.get(reverse("qa:search"), {"q": "分页", "page": 2})
    assert len(page2.context["page_obj"].object_list) == 5
    tagged = client.get(reverse("qa:search"), {"q": "分页", "tag": "分页"})
    assert tagged.context["page_obj"].paginator.count == 12
    assert client.get(reverse("qa:search"), {"q": "分页", "page": "abc"}).status_code == 200


def test_search_page_query_count_is_constant(corpus, client, django_assert_max_num_queries):
    with django_assert_max_num_queries(8):
        client.get(reverse("qa:search"), {"q": "python"})


def test_api_q_returns_search_order(corpus, client):
    data = client.get("/api/questions/", {"q": "pg_trgm"}).json()
    assert data["results"][0]["id"] == corpus["pgtrgm"].pk
    assert data["count"] >= 1
    ids = [item["id"] for item in client.get("/api/questions/", {"q": "图片"}).json()["results"]]
    assert ids == search.search("图片").ids[: len(ids)]


def test_search_is_rate_limited(db, client, settings):
    settings.ZHIKU_RATELIMIT = True
    settings.ZHIKU_RATELIMITS = {"search": (2, 60)}
    codes = [client.get(reverse("qa:search"), {"q": "x"}).status_code for _ in range(3)]
    assert codes == [200, 200, 429]


def test_header_search_box_on_every_page(db, client):
    html = client.get("/").content.decode()
    assert 'action="/search/"' in html and 'name="q"' in html


@pytest.mark.postgres
def test_postgres_uses_the_gin_indexed_vector(corpus):
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'qa_searchdocument_vector'")
        assert "gin" in cursor.fetchone()[0].lower()
    from qa.search.backends.postgresql import PostgresBackend

    assert isinstance(backend(), PostgresBackend)


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("walk_per_fetch", "plan"),
    [(1e-9, "every match through the GIN index"), (1e9, "the newest rows walked, then the index")],
)
def test_postgres_plans_chosen_by_the_vocabulary_find_what_the_reference_finds(
    corpus, monkeypatch, walk_per_fetch, plan
):
    """Whichever plan the document frequencies pick, the candidates are the same (at this
    size a walk covers every row, so its fall-back to the index runs as well)."""
    monkeypatch.setattr("qa.search.backends.postgresql.WALK_PER_FETCH", walk_per_fetch)
    for query, _expected in QUERIES:
        assert search.search(query).ids == search.search(query, engine=ReferenceBackend()).ids, (query, plan)


@pytest.mark.postgres
def test_postgres_title_and_full_vectors_follow_the_token_columns(corpus):
    """Both vectors are generated from the stored tokens, titles in a GIN index of their own."""
    question = corpus["bm25"]
    question.title = "BM25 参数 k1 的含义"
    question.save()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tsvector_to_array(title_vector), tsvector_to_array(search_vector), "
            "title_tokens, body_tokens FROM qa_searchdocument WHERE question_id = %s",
            [question.pk],
        )
        title_vector, search_vector, title_tokens, body_tokens = cursor.fetchone()
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'qa_searchdocument_title_vector'")
        assert "gin (title_vector)" in cursor.fetchone()[0].lower()
    assert set(title_vector) == set(title_tokens.split())
    assert "k1" in title_vector and "排序" not in title_vector
    assert set(search_vector) == set(f"{title_tokens} {body_tokens}".split())


def test_repeated_search_is_cached_until_the_content_changes(corpus, django_assert_num_queries):
    first = search.search("反色").ids
    with django_assert_num_queries(1):  # the vocabulary rows, which carry the content version
        assert search.search("反色").ids == first
    newer = make_question(title="反色以后再反色", answer="两次反色等于原图。")
    assert newer.pk in search.search("反色").ids


def test_search_page_query_budget_cold_and_repeated(corpus, client, django_assert_max_num_queries):
    with django_assert_max_num_queries(6):
        client.get(reverse("qa:search"), {"q": "图片 python"})
    with django_assert_max_num_queries(2):
        response = client.get(reverse("qa:search"), {"q": "图片 python"})
    assert "<mark>" in response.content.decode()


def test_cached_result_page_has_current_views_and_no_bulk_unpublished(corpus, client):
    before = client.get("/api/questions/", {"q": "图片"}).json()["results"]
    assert {item["id"] for item in before} >= {corpus["opencv"].pk, corpus["invert"].pk}
    Question.objects.filter(pk=corpus["opencv"].pk).update(views=41)
    Question.objects.filter(pk=corpus["invert"].pk).update(is_published=False)
    after = {item["id"]: item for item in client.get("/api/questions/", {"q": "图片"}).json()["results"]}
    assert after[corpus["opencv"].pk]["views"] == 41
    assert corpus["invert"].pk not in after


def test_warm_up_loads_the_segmenter_and_character_tables():
    tokenize.warm_up()
    assert tokenize.normalize("灰度圖像") == "灰度图像"
    assert "反色" in tokenize.words("图片反色处理")


def test_api_search_page_repeat_costs_one_query(corpus, client, django_assert_num_queries):
    first = client.get("/api/questions/", {"q": "图片 python"}).json()
    with django_assert_num_queries(1):  # the content version with the page's view counts
        again = client.get("/api/questions/", {"q": "图片 python"}).json()
    assert again == first


def test_api_search_page_shows_edits_unpublishing_and_deletes_at_once(corpus, client):
    """A cached page is stamped with the content version, so any change to the content retires it."""
    question = corpus["opencv"]
    assert question.pk in [
        item["id"] for item in client.get("/api/questions/", {"q": "图片"}).json()["results"]
    ]

    question.title = "OpenCV 读取图片后颜色发蓝"
    question.save()
    titles = {
        item["id"]: item["title"] for item in client.get("/api/questions/", {"q": "图片"}).json()["results"]
    }
    assert titles[question.pk] == "OpenCV 读取图片后颜色发蓝"

    question.tags.add(make_question(tags=["计算机视觉"]).tags.get())
    item = next(
        i for i in client.get("/api/questions/", {"q": "图片"}).json()["results"] if i["id"] == question.pk
    )
    assert "计算机视觉" in item["tags"]

    question.is_published = False
    question.save()
    data = client.get("/api/questions/", {"q": "图片"}).json()
    assert question.pk not in [item["id"] for item in data["results"]]

    count = data["count"]
    corpus["invert"].delete()
    data = client.get("/api/questions/", {"q": "图片"}).json()
    assert data["count"] == count - 1
    assert corpus["invert"].pk not in [item["id"] for item in data["results"]]


def test_api_search_page_from_cache_keeps_pages_links_and_host(db, client):
    for n in range(25):
        make_question(title=f"分页测试 {n}", answer="分页内容。")
    for _ in range(2):  # first listed, then from the cache
        first = client.get("/api/questions/", {"q": "分页"}).json()
        assert first["count"] == 25 and len(first["results"]) == 20
        assert first["next"] == "http://testserver/api/questions/?q=%E5%88%86%E9%A1%B5&page=2"
        second = client.get("/api/questions/", {"q": "分页", "page": 2}).json()
        assert len(second["results"]) == 5 and second["next"] is None
        assert second["previous"].endswith("page=1")
        assert client.get("/api/questions/", {"q": "分页", "page": "abc"}).status_code == 400
        assert client.get("/api/questions/", {"q": "分页", "page": 9}).status_code == 404
    other_host = client.get("/api/questions/", {"q": "分页"}, HTTP_HOST="localhost").json()
    assert all(item["url"].startswith("http://localhost/questions/") for item in other_host["results"])


def test_api_search_items_match_the_question_list(db, client):
    """Search results are listed like ``/api/questions/`` lists them: same URL, tags, dates."""
    question = make_question(
        title="灰度图像反色（Pillow）", tags=["图像处理", "python", "Pillow 库"], views=3
    )
    (listed,) = client.get("/api/questions/").json()["results"]
    for _ in range(2):  # listed, then cached
        (found,) = client.get("/api/questions/", {"q": "灰度 反色"}).json()["results"]
        assert found == listed
    assert found["url"] == "http://testserver" + question.get_absolute_url()
    assert "%E7%81%B0" in found["url"]


def test_api_search_query_budget_first_and_empty(corpus, client, django_assert_max_num_queries):
    with django_assert_max_num_queries(5):  # vocabulary, candidates, texts, the page, its tags
        client.get("/api/questions/", {"q": "图片 python"})
    for _ in range(2):  # an empty result is cached and served like any other
        data = client.get("/api/questions/", {"q": "bm25", "tag": "docker"}).json()
        assert data == {"count": 0, "next": None, "previous": None, "results": []}


def test_segmenter_learns_a_new_tag_name_as_a_word(db):
    """Tag names are domain words: once a tag exists, jieba keeps its name whole."""
    assert "量子退火" not in tokenize.words("量子退火算法入门")
    Tag.objects.create(name="量子退火")
    assert "量子退火" in tokenize.words("量子退火算法入门")
    question = make_question(title="量子退火算法入门", answer="模拟退火的量子版本。", tags=["量子退火"])
    assert "量子退火" in SearchDocument.objects.get(pk=question.pk).title_tokens.split()


def test_shipped_dictionary_words_are_kept_whole():
    words = tokenize.dictionary_words()
    assert "灰度图像" in words and not any(word.startswith("#") for word in words)
    assert "灰度图像" in tokenize.words("把灰度图像反色")
