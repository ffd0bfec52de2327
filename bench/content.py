"""Synthetic content at scale for the benchmarks, written with bulk inserts.

Rendering Markdown costs about a millisecond per document, so answers are built
from a small pool of rendered Markdown bodies plus one plain paragraph of words
unique to each question; the stored HTML is what ``Question.save`` would make of
that source. The search index, if the search module has one, is rebuilt once at
the end instead of row by row.
"""

import html
import random
from datetime import timedelta

from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from qa.markdown import excerpt, render_markdown
from qa.models import EXCERPT_LENGTH, Question, RelatedQuestion, Tag, unicode_slug

TOPICS = [
    "Python", "Pillow", "Django", "PostgreSQL", "SQLite", "Redis", "gunicorn", "NumPy", "OpenCV",
    "Linux", "Docker", "Git", "正则表达式", "灰度图", "反色", "图像处理", "全文检索", "中文分词",
    "缓存", "索引", "事务", "并发", "内存", "编码", "Unicode", "JSON", "HTTP", "TLS", "Nginx",
    "异步", "线程", "进程", "队列", "日志", "测试", "部署", "性能", "Markdown", "模板", "表单",
]  # fmt: skip
VERBS = ["如何", "怎样", "为什么", "什么时候应该", "能否", "有没有办法"]
ACTIONS = [
    "做灰度反色", "建立索引", "避免 N+1 查询", "处理中文文件名", "提高吞吐量", "压缩图片",
    "配置连接池", "读取 EXIF 方向", "分页显示结果", "导入一万条数据", "统计浏览量", "设置缓存失效",
    "计算 SHA-256", "处理大文件上传", "编写单元测试", "排查内存泄漏", "启用 WAL 模式", "高亮代码",
]  # fmt: skip
WORDS = [
    "像素", "通道", "亮度", "矩阵", "查询", "排序", "字段", "版本", "请求", "响应", "连接", "会话",
    "令牌", "分词", "语料", "阈值", "批量", "文件", "目录", "权限", "编码", "解码", "压缩", "格式",
    "pixel", "buffer", "cursor", "index", "worker", "thread", "socket", "schema", "vector",
]  # fmt: skip

ANSWER_SOURCES = [
    "用 **{topic}** 可以这样做：\n\n```python\nfrom PIL import Image, ImageOps\n\n"
    "image = Image.open('in.png').convert('L')\nImageOps.invert(image).save('out.png')\n```\n\n"
    "- 先转成灰度\n- 再逐像素取 255 − S(x,y)\n",
    "## 思路\n\n{topic} 的关键在于减少往返次数。[^1]\n\n| 方法 | 耗时 |\n|---|---|\n| 逐条 | 慢 |\n"
    "| 批量 | 快 |\n\n[^1]: 见官方文档。\n",
    "先看 `{topic}` 的配置：\n\n```sql\nCREATE INDEX idx ON qa_question (created DESC);\n```\n\n"
    "然后用 `EXPLAIN` 确认索引被使用。\n",
    "> {topic} 不是银弹。\n\n1. 测量\n2. 找到瓶颈\n3. 只优化瓶颈\n\n最后再测量一次。\n",
]


def _answer_pool(rng: random.Random) -> list[tuple[str, str]]:
    pool = []
    for source in ANSWER_SOURCES:
        for topic in TOPICS[:12]:
            text = source.format(topic=topic)
            pool.append((text, render_markdown(text)))
    rng.shuffle(pool)
    return pool


def _unique_paragraph(rng: random.Random, n: int) -> str:
    words = rng.sample(WORDS, 8)
    return f"第 {n} 条说明：" + "、".join(words) + f"，编号 zk{n:06d}。"


def generate(
    *,
    questions: int,
    tags: int = 40,
    resources: int = 60,
    curated: int = 2,
    recommended: int = 2,
    seed: int = 7,
    zipf: float | None = None,
    rebuild: bool = True,
) -> dict:
    """Insert ``questions`` published questions with tags, curated related links,
    resources and recommendations. Returns the ids of a few representative rows.

    ``tags`` beyond the 40 topics get numbered names; with ``zipf`` (an exponent,
    e.g. 1.0) tag popularity falls off as 1/rank**zipf instead of being uniform."""
    from resources.models import Recommendation, Resource

    rng = random.Random(seed)
    pool = _answer_pool(rng)
    now = timezone.now()
    with transaction.atomic():
        names = TOPICS[:tags] + [f"{TOPICS[i % len(TOPICS)]}{i}" for i in range(len(TOPICS), tags)]
        tag_rows = Tag.objects.bulk_create([Tag(name=name, slug=unicode_slug(name, 60)) for name in names])
        weights = [1 / (rank + 1) ** zipf for rank in range(len(tag_rows))] if zipf else None
        created_rows = []
        batch = []
        for n in range(questions):
            topic = rng.choice(TOPICS)
            title = f"{rng.choice(VERBS)}用 {topic} {rng.choice(ACTIONS)}？（{n}）"
            source, rendered = pool[n % len(pool)]
            paragraph = _unique_paragraph(rng, n)
            answer_html = f"{rendered}\n<p>{html.escape(paragraph)}</p>"
            batch.append(
                Question(
                    key=f"bench-{n}",
                    title=title,
                    slug=unicode_slug(title),
                    answer=f"{source}\n{paragraph}\n",
                    answer_html=answer_html,
                    excerpt=excerpt(answer_html, EXCERPT_LENGTH),
                    views=rng.randint(0, 5000),
                    created=now - timedelta(minutes=questions - n),
                )
            )
            if len(batch) == 5000:
                created_rows += Question.objects.bulk_create(batch, batch_size=1000)
                batch = []
        created_rows += Question.objects.bulk_create(batch, batch_size=1000)
        ids = [q.pk for q in created_rows]
        del created_rows, batch

        through = Question.tags.through
        links = []
        for pk in ids:
            chosen = set(rng.choices(tag_rows, weights=weights, k=3)) if weights else rng.sample(tag_rows, 3)
            links.extend(through(question_id=pk, tag_id=tag.pk) for tag in chosen)
            if len(links) >= 20000:
                through.objects.bulk_create(links, batch_size=5000)
                links = []
        through.objects.bulk_create(links, batch_size=5000)

        related = []
        for i, pk in enumerate(ids):
            others = {ids[(i + step) % len(ids)] for step in (1, 7, 31, 101, 307)[:curated]} - {pk}
            for position, other in enumerate(sorted(others)):
                related.append(RelatedQuestion(from_question_id=pk, to_question_id=other, position=position))
            if len(related) >= 20000:
                RelatedQuestion.objects.bulk_create(related, batch_size=5000)
                related = []
        RelatedQuestion.objects.bulk_create(related, batch_size=5000)

        resource_rows = Resource.objects.bulk_create(
            [
                Resource(
                    key=f"bench-r{n}",
                    title=f"{TOPICS[n % len(TOPICS)]} 资料包 {n}",
                    slug=unicode_slug(f"{TOPICS[n % len(TOPICS)]} 资料包 {n}"),
                    description=f"第 {n} 份资料，含示例代码。",
                    description_html=f"<p>第 {n} 份资料，含示例代码。</p>",
                    summary=f"第 {n} 份资料，含示例代码。",
                    file=f"resources/bench/{n}.pdf",
                    original_name=f"资料{n}.pdf",
                    file_type="pdf",
                    size=1024 * (n + 1),
                    sha256="0" * 64,
                    created=now - timedelta(hours=n),
                )
                for n in range(resources)
            ]
        )
        recommendations = []
        if resource_rows:
            for pk in ids:
                for position, resource in enumerate(
                    rng.sample(resource_rows, min(recommended, len(resource_rows)))
                ):
                    recommendations.append(
                        Recommendation(question_id=pk, resource_id=resource.pk, position=position)
                    )
                if len(recommendations) >= 20000:
                    Recommendation.objects.bulk_create(recommendations, batch_size=5000)
                    recommendations = []
        Recommendation.objects.bulk_create(recommendations, batch_size=5000)
    if rebuild:
        rebuild_search_index()
    return {
        "question_ids": ids,
        "resource_ids": [r.pk for r in resource_rows],
        "tag_ids": [t.pk for t in tag_rows],
    }


def rebuild_search_index() -> bool:
    """Rebuild the search index after bulk inserts (which skip per-row hooks)."""
    from django.core.management import get_commands

    if "rebuild_search_index" not in get_commands():
        return False
    call_command("rebuild_search_index", verbosity=0)
    return True
