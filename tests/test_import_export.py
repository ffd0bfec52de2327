import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from qa.models import Question, RelatedQuestion, Tag
from resources.models import Recommendation, Resource
from tests.conftest import make_question

pytestmark = pytest.mark.django_db

PDF_BYTES = b"%PDF-1.4\n% tiny test file\n%%EOF\n"
ZIP_BYTES = b"PK\x05\x06" + b"\x00" * 18


def stored_files(media: Path) -> list[Path]:
    return [p for p in media.rglob("*") if p.is_file()] if media.exists() else []


def sample_content() -> dict:
    return {
        "questions": [
            {
                "key": "inv",
                "title": "如何用 Python 实现灰度反色",
                "question": "用 **Pillow** 怎么写？",
                "answer": "## 公式\n\nT(x,y) = 255 − S(x,y)\n\n```python\nprint(1)\n```\n",
                "tags": ["python", "图像处理"],
                "created": "2024-08-27T22:04:20+08:00",
                "views": 28,
                "related": ["hist", "wal"],
                "resources": ["pdf1", "zip1"],
            },
            {"key": "hist", "title": "直方图均衡是什么", "answer": "见下文。", "related": ["inv"]},
            {"key": "wal", "title": "SQLite WAL 模式", "answer": "WAL 让读写并行。", "published": False},
        ],
        "resources": [
            {
                "key": "pdf1",
                "title": "反色速查表",
                "description": "一页 *PDF*",
                "file": "files/反色速查表.pdf",
                "created": "2025-01-02T03:04:05+08:00",
                "downloads": 7,
            },
            {"key": "zip1", "title": "示例脚本", "file": "files/scripts.zip"},
        ],
    }


def write_content(folder: Path, content: dict, files: dict[str, bytes] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    if files is None:
        files = {"files/反色速查表.pdf": PDF_BYTES, "files/scripts.zip": ZIP_BYTES}
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    path = folder / "content.json"
    path.write_text(json.dumps(content, ensure_ascii=False), encoding="utf-8")
    return path


def test_import_creates_questions_resources_and_links(tmp_path, media_root):
    call_command("import_content", str(write_content(tmp_path / "in", sample_content())))

    inv = Question.objects.get(key="inv")
    assert inv.title == "如何用 Python 实现灰度反色"
    assert "<strong>Pillow</strong>" in inv.body_html
    assert 'class="highlight"' in inv.answer_html
    assert inv.views == 28
    assert inv.created == datetime(2024, 8, 27, 14, 4, 20, tzinfo=UTC)
    assert sorted(t.name for t in inv.tags.all()) == ["python", "图像处理"]
    assert [link.to_question.key for link in inv.related_links.all()] == ["hist", "wal"]
    assert [rec.resource.key for rec in inv.recommendations.all()] == ["pdf1", "zip1"]
    assert Question.objects.get(key="hist").views == 0
    assert Question.objects.get(key="wal").is_published is False

    pdf = Resource.objects.get(key="pdf1")
    assert pdf.original_name == "反色速查表.pdf"
    assert pdf.file_type == "pdf"
    assert pdf.downloads == 7
    assert pdf.size == len(PDF_BYTES)
    assert "<em>PDF</em>" in pdf.description_html
    with pdf.file.open("rb") as fh:
        assert fh.read() == PDF_BYTES
    assert len(stored_files(media_root)) == 2


def test_reimport_updates_in_place_without_duplicates_or_new_files(tmp_path, media_root):
    content = sample_content()
    path = write_content(tmp_path / "in", content)
    call_command("import_content", str(path))
    first_file = Resource.objects.get(key="pdf1").file.name

    content["questions"][0]["title"] = "Python 灰度反色（修订）"
    content["questions"][0]["views"] = 100
    content["questions"][0]["related"] = ["wal"]
    content["questions"][0]["resources"] = ["zip1", "pdf1"]
    content["questions"][0]["tags"] = ["python"]
    content["resources"][0]["downloads"] = 9
    write_content(tmp_path / "in", content)
    call_command("import_content", str(path))

    assert Question.objects.count() == 3
    assert Resource.objects.count() == 2
    assert RelatedQuestion.objects.count() == 2
    inv = Question.objects.get(key="inv")
    assert inv.title == "Python 灰度反色（修订）"
    assert inv.slug.startswith("python-灰度反色")
    assert inv.views == 100
    assert [t.name for t in inv.tags.all()] == ["python"]
    assert [link.to_question.key for link in inv.related_links.all()] == ["wal"]
    assert [rec.resource.key for rec in inv.recommendations.all()] == ["zip1", "pdf1"]
    pdf = Resource.objects.get(key="pdf1")
    assert pdf.downloads == 9
    assert pdf.file.name == first_file, "an unchanged file is not stored again"
    assert len(stored_files(media_root)) == 2


def test_reimport_with_changed_file_stores_the_new_bytes(
    tmp_path, media_root, django_capture_on_commit_callbacks
):
    path = write_content(tmp_path / "in", sample_content())
    call_command("import_content", str(path))
    old_name = Resource.objects.get(key="pdf1").file.name

    (tmp_path / "in/files/反色速查表.pdf").write_bytes(PDF_BYTES + b"% v2\n")
    with django_capture_on_commit_callbacks(execute=True):
        call_command("import_content", str(path))

    pdf = Resource.objects.get(key="pdf1")
    assert pdf.file.name != old_name
    with pdf.file.open("rb") as fh:
        assert fh.read().endswith(b"% v2\n")
    assert not (media_root / old_name).exists(), "the replaced file is removed once the import commits"
    assert len(stored_files(media_root)) == 2


def test_omitted_optional_fields_keep_their_values_on_update(tmp_path, media_root):
    path = write_content(tmp_path / "in", sample_content())
    call_command("import_content", str(path))
    slim = {"questions": [{"key": "inv", "title": "如何用 Python 实现灰度反色", "answer": "新回答"}]}
    call_command("import_content", str(write_content(tmp_path / "slim", slim, files={})))

    inv = Question.objects.get(key="inv")
    assert inv.answer == "新回答"
    assert inv.views == 28
    assert inv.tags.count() == 2
    assert inv.related_links.count() == 2


def test_import_may_link_to_questions_already_in_the_database(tmp_path, media_root):
    make_question(key="old", title="已有的问题")
    content = {"questions": [{"key": "new", "title": "新问题", "answer": "答", "related": ["old"]}]}
    call_command("import_content", str(write_content(tmp_path / "in", content, files={})))
    assert [q.key for q in Question.objects.get(key="new").related.all()] == ["old"]


def test_tags_are_matched_case_insensitively(tmp_path, media_root):
    Tag.objects.create(name="Python")
    content = {"questions": [{"key": "a", "title": "标题", "answer": "答", "tags": ["python", "C++", "C#"]}]}
    call_command("import_content", str(write_content(tmp_path / "in", content, files={})))
    assert sorted(Tag.objects.values_list("name", flat=True)) == ["C#", "C++", "Python"]


def test_tag_names_are_trimmed_so_a_stray_space_makes_no_second_tag(tmp_path, media_root):
    content = {"questions": [{"key": "a", "title": "标题", "answer": "答", "tags": ["python", " 图像处理 "]}]}
    call_command("import_content", str(write_content(tmp_path / "in", content, files={})))
    second = {"key": "b", "title": "另一个", "answer": "答", "tags": ["Python ", "图像处理"]}
    content["questions"].append(second)
    call_command("import_content", str(write_content(tmp_path / "in2", content, files={})))
    assert sorted(Tag.objects.values_list("name", flat=True)) == ["python", "图像处理"]
    assert Question.objects.get(key="b").tags.count() == 2


def test_a_content_file_saved_with_a_byte_order_mark_imports(tmp_path, media_root):
    """Windows editors write UTF-8 with a BOM; json.loads alone refuses it."""
    path = write_content(tmp_path / "in", sample_content())
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    call_command("import_content", str(path))
    assert Question.objects.filter(key="inv").exists()


def test_naive_created_time_is_read_in_the_site_time_zone(tmp_path, media_root):
    content = {"questions": [{"key": "a", "title": "标题", "answer": "答", "created": "2025-03-01T08:00:00"}]}
    call_command("import_content", str(write_content(tmp_path / "in", content, files={})))
    assert Question.objects.get(key="a").created == datetime(2025, 3, 1, 0, 0, tzinfo=UTC)


def test_dry_run_checks_but_writes_nothing(tmp_path, media_root):
    call_command("import_content", str(write_content(tmp_path / "in", sample_content())), "--dry-run")
    assert Question.objects.count() == 0
    assert stored_files(media_root) == []


# --- Errors: named item and field, non-zero exit, nothing written -------------------------------


def broken(change) -> dict:
    content = sample_content()
    change(content)
    return content


ERROR_CASES = {
    "missing title": (
        broken(lambda c: c["questions"][1].pop("title")),
        ['questions[1] (key "hist")', '"title"', "required"],
    ),
    "empty answer": (
        broken(lambda c: c["questions"][1].update(answer="  ")),
        ['questions[1] (key "hist")', '"answer"'],
    ),
    "unknown related key": (
        broken(lambda c: c["questions"][0]["related"].append("nope")),
        ['questions[0] (key "inv")', '"related"', '"nope"'],
    ),
    "unknown resource key": (
        broken(lambda c: c["questions"][2].update(resources=["ghost"])),
        ['questions[2] (key "wal")', '"resources"', '"ghost"'],
    ),
    "missing file": (
        broken(lambda c: c["resources"][1].update(file="files/none.zip")),
        ['resources[1] (key "zip1")', '"file"', "does not exist"],
    ),
    "dot-dot escape": (
        broken(lambda c: c["resources"][1].update(file="files/../../secret.txt")),
        ['resources[1] (key "zip1")', '"file"', ".."],
    ),
    "absolute path": (
        broken(lambda c: c["resources"][1].update(file="/etc/hostname")),
        ['resources[1] (key "zip1")', '"file"', "absolute"],
    ),
    "bad date": (
        broken(lambda c: c["questions"][0].update(created="27/08/2024")),
        ['questions[0] (key "inv")', '"created"'],
    ),
    "views of the wrong type": (
        broken(lambda c: c["questions"][0].update(views="28")),
        ['questions[0] (key "inv")', '"views"'],
    ),
    "tags not a list": (
        broken(lambda c: c["questions"][0].update(tags="python")),
        ['questions[0] (key "inv")', '"tags"'],
    ),
    "duplicate key": (
        broken(lambda c: c["questions"][2].update(key="inv")),
        ['questions[2] (key "inv")', '"key"', "questions[0]"],
    ),
    "missing key": (
        broken(lambda c: c["questions"][1].pop("key")),
        ["questions[1]", '"key"', "required"],
    ),
    "related to itself": (
        broken(lambda c: c["questions"][1].update(related=["hist"])),
        ['questions[1] (key "hist")', '"related"', "itself"],
    ),
    "misspelt field": (
        broken(lambda c: c["questions"][1].update(titel="x")),
        ['questions[1] (key "hist")', '"titel"'],
    ),
    # PostgreSQL refuses NUL in text with a traceback; the reader must catch it first.
    "NUL in a title": (
        broken(lambda c: c["questions"][1].update(title="直方图\u0000均衡")),
        ['questions[1] (key "hist")', '"title"', "NUL"],
    ),
    # The admin refuses such uploads; an import must not be a way round that.
    "file type off the upload allowlist": (
        broken(lambda c: c["resources"][1].update(file="files/scripts.zip", name="page.html")),
        ['resources[1] (key "zip1")', '"name"', "allowlist", "page.html"],
    ),
    "NUL in a tag": (
        broken(lambda c: c["questions"][0].update(tags=["py\u0000thon"])),
        ['questions[0] (key "inv")', '"tags"', "NUL"],
    ),
}


@pytest.mark.parametrize("case", ERROR_CASES, ids=list(ERROR_CASES))
def test_bad_content_names_item_and_field_and_writes_nothing(case, tmp_path, media_root):
    content, expected = ERROR_CASES[case]
    (tmp_path / "secret.txt").write_text("outside")
    path = write_content(tmp_path / "in", content)

    with pytest.raises(CommandError) as excinfo:
        call_command("import_content", str(path))

    message = str(excinfo.value)
    for fragment in expected:
        assert fragment in message
    assert Question.objects.count() == 0
    assert Resource.objects.count() == 0
    assert Tag.objects.count() == 0
    assert stored_files(media_root) == []


def test_bad_json_is_reported_with_its_position(tmp_path, media_root):
    path = tmp_path / "content.json"
    path.write_text('{"questions": [{"key": "a",}]}', encoding="utf-8")
    with pytest.raises(CommandError, match=r"invalid JSON at line 1, column \d+"):
        call_command("import_content", str(path))
    assert Question.objects.count() == 0


def test_symlink_out_of_the_folder_is_refused(tmp_path, media_root):
    (tmp_path / "secret.txt").write_text("outside")
    path = write_content(tmp_path / "in", sample_content())
    target = tmp_path / "in/files/scripts.zip"
    target.unlink()
    os.symlink(tmp_path / "secret.txt", target)
    with pytest.raises(CommandError, match=r'resources\[1\] \(key "zip1"\), field "file": .*symbolic link'):
        call_command("import_content", str(path))
    assert stored_files(media_root) == []


def test_symlinked_folder_is_refused(tmp_path, media_root):
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere/scripts.zip").write_bytes(ZIP_BYTES)
    content = broken(lambda c: c["resources"][1].update(file="linked/scripts.zip"))
    path = write_content(tmp_path / "in", content)
    os.symlink(tmp_path / "elsewhere", tmp_path / "in/linked")
    with pytest.raises(CommandError, match=r'resources\[1\] \(key "zip1"\), field "file": .*symbolic link'):
        call_command("import_content", str(path))
    assert stored_files(media_root) == []


def test_every_problem_is_reported_at_once(tmp_path, media_root):
    content = broken(lambda c: (c["questions"][0].pop("answer"), c["resources"][0].update(file="../x.pdf")))
    with pytest.raises(CommandError) as excinfo:
        call_command("import_content", str(write_content(tmp_path / "in", content)))
    assert '"answer"' in str(excinfo.value)
    assert '"file"' in str(excinfo.value)


def test_failed_import_leaves_existing_rows_untouched(tmp_path, media_root):
    path = write_content(tmp_path / "in", sample_content())
    call_command("import_content", str(path))
    content = sample_content()
    content["questions"][0]["title"] = "不该写入的新标题"
    content["questions"][1]["related"] = ["missing"]
    write_content(tmp_path / "in", content)

    with pytest.raises(CommandError):
        call_command("import_content", str(path))
    assert Question.objects.get(key="inv").title == "如何用 Python 实现灰度反色"


def test_failure_while_writing_rolls_back_rows_and_removes_stored_files(tmp_path, media_root, monkeypatch):
    """A failure after files reached storage still leaves no rows and no files behind."""
    from qa import importing

    def fail_linking(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(importing.bulk, "write_links", fail_linking)
    with pytest.raises(RuntimeError):
        call_command("import_content", str(write_content(tmp_path / "in", sample_content())))
    assert Question.objects.count() == 0
    assert Resource.objects.count() == 0
    assert stored_files(media_root) == []


# --- Export ------------------------------------------------------------------------------------


def test_export_then_import_into_an_empty_database_loses_nothing(tmp_path, media_root, settings):
    call_command("import_content", str(write_content(tmp_path / "in", sample_content())))
    # A question made in the admin has no key, and a second resource shares a file name.
    plain = make_question(title="后台新建的问题", answer="| a | b |\n|---|---|\n| 1 | 2 |\n", views=3)
    (tmp_path / "dup").mkdir()
    twin = write_content(
        tmp_path / "dup",
        {"resources": [{"key": "pdf2", "title": "同名文件", "file": "x/反色速查表.pdf"}]},
        files={"x/反色速查表.pdf": b"%PDF-1.4 other\n"},
    )
    call_command("import_content", str(twin))
    Recommendation(question=plain, resource=Resource.objects.get(key="pdf2"), position=0).save()

    def snapshot():
        questions = [
            (
                q.title, q.body, q.answer, q.answer_html, q.views, q.created, q.is_published,
                sorted(t.name for t in q.tags.all()),
                [link.to_question.title for link in q.related_links.all()],
                [rec.resource.title for rec in q.recommendations.all()],
            )
            for q in Question.objects.order_by("title")
        ]  # fmt: skip
        resources = []
        for r in Resource.objects.order_by("title"):
            with r.file.open("rb") as fh:
                data = fh.read()
            resources.append(
                (r.title, r.description, r.original_name, r.file_type, r.downloads, r.created, r.sha256, data)
            )
        return questions, resources

    before = snapshot()
    out = tmp_path / "export"
    call_command("export_content", str(out))
    exported = json.loads((out / "content.json").read_text(encoding="utf-8"))
    assert f"q{plain.pk}" in [q["key"] for q in exported["questions"]]
    assert {p.name for p in (out / "files").iterdir()} == {
        "反色速查表.pdf",
        "反色速查表-2.pdf",
        "scripts.zip",
    }

    Question.objects.all().delete()
    Resource.objects.all().delete()
    Tag.objects.all().delete()
    settings.MEDIA_ROOT = tmp_path / "media-after"
    call_command("import_content", str(out / "content.json"))
    assert snapshot() == before


def test_export_refuses_a_folder_that_is_not_empty(tmp_path, media_root):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "old.txt").write_text("x")
    with pytest.raises(CommandError, match="empty"):
        call_command("export_content", str(tmp_path / "out"))


def test_export_of_an_empty_site_imports_cleanly(tmp_path, media_root):
    call_command("export_content", str(tmp_path / "out"))
    assert json.loads((tmp_path / "out/content.json").read_text()) == {"questions": [], "resources": []}
    call_command("import_content", str(tmp_path / "out"))
