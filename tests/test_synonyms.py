"""Soft lexical matching and synonym groups (SPEC §6), on whichever database runs the suite."""

import io
import json
from pathlib import Path

from django.core.management import call_command

from qa import search
from qa.models import SynonymGroup
from qa.search import tokenize
from qa.search.backends.reference import ReferenceBackend
from tests.conftest import make_question


def test_long_question_with_a_word_its_article_lacks_still_finds_it(db):
    article = make_question(title="Pillow 图片反色", answer="用 ImageOps.invert 把灰度图片反色。")
    make_question(title="照片的 EXIF 方向", answer="读取照片的 EXIF 方向再旋转。")
    # "照片" is indexed (another question) but not in the article; nothing has every word.
    query = "请问我想用 Pillow 把一张照片做反色应该怎么写"
    assert search.search(query).ids[0] == article.pk
    assert search.search(query).ids == search.search(query, engine=ReferenceBackend()).ids


def test_partial_matches_follow_the_questions_with_every_word(db):
    every = make_question(title="Redis 缓存过期与淘汰策略", answer="惰性删除和定期删除。")
    partial = make_question(title="Redis 淘汰策略", answer="LRU 与 LFU。")
    make_question(title="无关话题", answer="和缓存没有关系的内容，只提到 Redis。")
    found = search.search("Redis 缓存 过期 淘汰").ids
    assert found[:2] == [every.pk, partial.pk]


def test_a_partial_match_must_cover_a_fair_share_of_the_query(db):
    common = [make_question(title=f"python 入门 {n}", answer="变量与循环。") for n in range(6)]
    rare = make_question(title="量子退火与拓扑绝缘体", answer="超导体里的量子现象。")
    found = search.search("python 量子退火 拓扑绝缘体 超导体").ids
    # Three rare words of four: listed; only the most common word: not worth listing.
    assert found == [rare.pk]
    assert not set(found) & {question.pk for question in common}


def test_synonym_group_finds_the_other_terms(db):
    cost = make_question(title="Transformer 的成本函数", answer="交叉熵。")
    loss = make_question(title="What is a loss function", answer="It measures the error.")
    SynonymGroup.objects.create(terms="损失函数\n成本函数\n代价函数\nloss function")
    found = search.search("代价函数").ids
    assert set(found) == {cost.pk, loss.pk}
    assert set(search.search("Loss Function").ids) == {cost.pk, loss.pk}
    assert search.search("代价函数").ids == search.search("代价函数", engine=ReferenceBackend()).ids
    # The other terms are highlighted too.
    assert "成本函数" in search.search("代价函数").terms


def test_synonym_edit_applies_to_the_next_search(db):
    make_question(title="SGD 的动量", answer="动量让更新更平滑。")
    assert search.search("随机梯度下降").ids == []
    group = SynonymGroup.objects.create(terms="随机梯度下降, SGD")
    assert len(search.search("随机梯度下降").ids) == 1
    group.delete()
    assert search.search("随机梯度下降").ids == []


def test_ascii_synonym_terms_match_whole_words_only():
    synonyms = tokenize.Synonyms.from_groups([["index", "索引"]])
    groups = tokenize.parse_query("reindex 索引", synonyms)
    assert [group.surface for group in groups] == ["reindex", "索引"]
    assert [variant.surface for variant in groups[1].variants] == ["索引", "index"]


def test_synonyms_in_demo_content_are_imported_once(db, tmp_path):
    call_command("load_demo", "qa/demo/demo.json", stdout=io.StringIO())
    demo = json.loads(Path("qa/demo/demo.json").read_text(encoding="utf-8"))
    assert SynonymGroup.objects.count() == len(demo["synonyms"])
    assert search.search("代价函数").ids  # the demo's Transformer answer speaks of 成本函数


def test_import_checks_the_synonyms_section(db, tmp_path):
    from qa.importing import import_content
    from qa.transfer import TransferError

    path = tmp_path / "content.json"
    path.write_text(json.dumps({"questions": [], "synonyms": [["只有一个"], "x"]}), encoding="utf-8")
    try:
        import_content(path=path)
    except TransferError as exc:
        assert any("synonyms[0]" in problem for problem in exc.problems)
        assert any("synonyms[1]" in problem for problem in exc.problems)
    else:
        raise AssertionError("a bad synonyms section was imported")
    path.write_text(json.dumps({"synonyms": [["反色", "负片"], ["负片", "反色"]]}), encoding="utf-8")
    assert import_content(path=path).synonym_groups_created == 1
    assert import_content(path=path).synonym_groups_created == 0


def test_synonym_groups_are_edited_in_the_admin(admin_client):
    response = admin_client.post(
        "/admin/qa/synonymgroup/add/", {"terms": "灰度\n灰阶\ngrayscale"}, follow=True
    )
    assert response.status_code == 200
    assert SynonymGroup.objects.get().term_list == ["灰度", "灰阶", "grayscale"]
