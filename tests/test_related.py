"""Related questions (SPEC §6): curated first, then similar ones, with the reason shown."""

from django.core.cache import cache

from qa.models import Question
from tests.conftest import make_question


def test_curated_come_first_in_editor_order(db):
    a = make_question(title="灰度反色", tags=["图像"])
    b = make_question(title="彩色反色", tags=["图像"])
    question = make_question(title="图像反色原理", tags=["图像"], related=[b, a])
    assert Question.objects.related_to(question)[:2] == [b, a]


def test_filled_to_limit_by_similarity_without_self_or_unpublished(db):
    question = make_question(
        title="Pillow 灰度图像反色", answer="convert('L') 后反色。", tags=["python", "图像"]
    )
    both_tags = make_question(title="OpenCV 读取图片", tags=["python", "图像"])
    one_tag = make_question(title="Python 列表推导", tags=["python"])
    same_words = make_question(title="灰度图像的直方图", answer="先转为灰度图像。")
    hidden = make_question(title="Pillow 灰度图像反色（草稿）", tags=["python", "图像"], is_published=False)
    make_question(title="Redis 过期策略", tags=["redis"])
    related = Question.objects.related_to(question)
    assert question not in related and hidden not in related
    assert related[0] == both_tags
    assert {one_tag, same_words} <= set(related)
    assert len(related) <= 5


def test_rare_shared_words_weigh_more_than_common_ones(db):
    for n in range(6):
        make_question(title=f"Python 常见问题 {n}", answer="python 基础。")
    question = make_question(title="Python 里的 pg_trgm 索引", answer="python 调用 pg_trgm。")
    rare = make_question(title="pg_trgm 相似度阈值", answer="set pg_trgm.similarity_threshold。")
    assert Question.objects.related_to(question)[0] == rare


def test_limit_counts_curated(db):
    others = [make_question(title=f"反色 {n}", tags=["图像"]) for n in range(8)]
    question = make_question(title="反色", tags=["图像"], related=others[:2])
    related = Question.objects.related_to(question, limit=5)
    assert len(related) == 5
    assert related[:2] == others[:2]
    assert len(set(related)) == 5


def test_each_related_question_says_why(db):
    question = make_question(title="Django F() 表达式", tags=["django", "数据库"])
    tagged = make_question(title="Django 查询优化", tags=["django"])
    worded = make_question(title="用 F() 表达式避免竞争", answer="原子更新。")
    related = {item.pk: item for item in Question.objects.related_to(question)}
    assert [tag.name for tag in related[tagged.pk].shared_tags] == ["django"]
    assert related[worded.pk].shared_tags == []
    assert related[worded.pk].shared_words


def test_unpublishing_removes_it_from_cached_related(db):
    question = make_question(title="梯度下降", tags=["深度学习"])
    other = make_question(title="学习率衰减", tags=["深度学习"])
    assert Question.objects.related_to(question) == [other]
    other.is_published = False
    other.save()
    assert Question.objects.related_to(question) == []


def test_new_question_appears_in_related_after_cache_was_filled(db):
    question = make_question(title="梯度下降", tags=["深度学习"])
    assert Question.objects.related_to(question) == []
    newcomer = make_question(title="动量法", tags=["深度学习"])
    assert Question.objects.related_to(question) == [newcomer]


def test_related_costs_a_fixed_number_of_queries(db, django_assert_max_num_queries):
    question = make_question(title="反色", tags=["图像", "python"])
    for n in range(12):
        make_question(title=f"反色变体 {n}", tags=["图像", "python"])
    question = Question.objects.prefetch_related("tags").get(pk=question.pk)
    Question.objects.related_to(question)  # fills the cache
    with django_assert_max_num_queries(4):
        related = Question.objects.related_to(question)
        [tag.name for item in related for tag in item.shared_tags]
    cache.clear()
    with django_assert_max_num_queries(20):
        Question.objects.related_to(question)


def test_question_page_shows_why_related(db, client):
    question = make_question(title="灰度反色", tags=["图像处理"])
    make_question(title="彩色反相", tags=["图像处理"])
    html = client.get(question.get_absolute_url()).content.decode()
    assert "彩色反相" in html
    assert 'class="related__why"' in html
