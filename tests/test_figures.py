"""Figures (SPEC §4): Markdown markup, re-encoding, the admin, serving, import/export;
and the long-answer details: table of contents, the answer's update time."""

import io
import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.test import Client
from django.utils import timezone
from PIL import Image, ImageCms, PngImagePlugin

from qa import figures as figure_images
from qa.exporting import export_content
from qa.figures import encode_figure
from qa.importing import import_content
from qa.markdown import FigureRef, render_document, render_markdown
from qa.models import Figure, Question
from qa.transfer import TransferError
from resources.imaging import ImageToolError
from tests.conftest import make_question
from tests.test_imaging import gif_with_frames, png_bomb, png_with_size

WIDE = FigureRef(
    url="/media/figures/2025/01/a-full.png",
    width=1200,
    height=600,
    narrow_url="/media/figures/2025/01/a-narrow.png",
    narrow_width=480,
    caption="反色前后 <对比>",
)


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def two_colour_photo(size=(60, 30)) -> Image.Image:
    """Red on the left half, blue on the right: shows which way a rotation went."""
    image = Image.new("RGB", size, (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, size[0] // 2, size[1]))
    return image


def jpeg_with_metadata(orientation: int = 6) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "Zhiku Test Camera"
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (31.0, 14.0, 0.0)
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/></x:xmpmeta>'
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = encode(two_colour_photo(), "JPEG", exif=exif.tobytes(), xmp=xmp, icc_profile=srgb, quality=95)
    assert b"Exif" in data and b"adobe:ns:meta" in data and b"ICC_PROFILE" in data
    return data


def png_bytes(size=(1200, 600), colour=(30, 140, 90)) -> bytes:
    image = Image.new("RGB", size, colour)
    image.paste((250, 250, 250), (size[0] // 4, size[1] // 4, size[0] // 2, size[1] // 2))
    return encode(image, "PNG")


# --- the Markdown pipeline -------------------------------------------------------------------


def test_a_figure_alone_in_a_paragraph_is_a_figure_with_srcset_and_caption():
    html = render_markdown("![灰度反色](figure:cat)", figures={"cat": WIDE})
    assert html.startswith("<figure>") and "<p>" not in html
    img = re.search(r"<img [^>]+>", html)[0]
    for attribute in (
        'src="/media/figures/2025/01/a-full.png"',
        'alt="灰度反色"',
        'width="1200"',
        'height="600"',
        'loading="lazy"',
        'srcset="/media/figures/2025/01/a-narrow.png 480w, /media/figures/2025/01/a-full.png 1200w"',
        "sizes=",
    ):
        assert attribute in img
    assert "<figcaption>反色前后 &lt;对比&gt;</figcaption>" in html


def test_a_figure_in_running_text_is_the_image_alone():
    html = render_markdown("看图 ![猫](figure:cat) 的右边", figures={"cat": WIDE})
    assert "<figure>" not in html and "<figcaption>" not in html
    assert html.startswith("<p>看图 <img ") and 'srcset="' in html


def test_a_small_figure_has_no_srcset():
    small = FigureRef(url="/media/figures/2025/01/s.png", width=300, height=200)
    html = render_markdown("![小](figure:s)", figures={"s": small})
    assert 'width="300"' in html and "srcset" not in html and "<figcaption>" not in html


def test_an_unknown_figure_shows_its_alt_text_and_a_visible_note():
    html = render_markdown("![反色后的猫](figure:nope)", figures={"cat": WIDE})
    assert "<img" not in html
    assert '<span class="figure-missing">反色后的猫' in html
    assert "nope" in html and "缺少插图" in html
    assert "figure-missing" in render_markdown("![x](figure:cat)")  # no figures given at all


@pytest.mark.parametrize(
    "source",
    [
        '<img src="data:image/png;base64,iVBORw0KGgo=">',
        '<img src="javascript:alert(1)">',
        '<img src="https://tracker.example/pixel.png">',
        '<img src="//tracker.example/pixel.png">',
        '<img src="/x.png" srcset="javascript:alert(1) 1x">',
        '<img src="/x.png" srcset="/ok.png 480w, https://tracker.example/p.png 900w">',
        '<img src="/x.png" srcset="data:image/svg+xml,<svg onload=alert(1)> 1x">',
        '<img src="/x.png" srcset="//tracker.example/p.png 2x">',
        '<img src="/x.png" sizes="url(javascript:alert(1))">',
        '<img src="/x.png" loading="javascript:alert(1)">',
        '<figure onclick="alert(1)"><img src="/x.png" onerror="alert(1)">'
        '<figcaption style="x">c</figcaption></figure>',
        "![x](data:image/png;base64,iVBORw0KGgo=)",
        "![x](https://tracker.example/pixel.png)",
    ],
)
def test_hostile_image_sources_do_not_pass_the_sanitiser(source):
    html = render_markdown(source, figures={"cat": WIDE})
    assert "javascript" not in html and "data:" not in html and "tracker.example" not in html
    assert "onclick" not in html and "onerror" not in html and "style" not in html


def test_the_sanitiser_keeps_the_site_own_image_markup():
    source = (
        '<figure><img src="/a.png" srcset="/n.png 480w, /a.png 900w" sizes="100vw" loading="lazy"></figure>'
    )
    html = render_markdown(source)
    assert 'srcset="/n.png 480w, /a.png 900w"' in html and 'loading="lazy"' in html and "<figure>" in html


def test_excerpts_leave_out_figure_captions_and_missing_notes():
    from qa.markdown import excerpt

    html = render_markdown(
        "先看图：\n\n![猫](figure:cat)\n\n![狗](figure:dog)\n\n再读文字。", figures={"cat": WIDE}
    )
    text = excerpt(html)
    assert "反色前后" not in text and "缺少插图" not in text
    assert text.startswith("先看图：") and "再读文字。" in text


def test_table_of_contents_from_three_headings():
    two = render_document("## 一\n\n文字\n\n## 二\n\n文字")
    assert two.toc_html == ""
    three = render_document("## 公式\n\n文字\n\n### 推导 & 证明\n\n文字\n\n## 代码\n\n文字")
    toc = three.toc_html
    assert toc.startswith("<ol><li>") and toc.count("<li>") == 3
    for anchor in re.findall(r'href="#([^"]+)"', toc):
        assert f'id="{anchor}"' in three.html
    assert "推导 &amp; 证明" in toc
    assert "<ol><li><a" in toc.split("公式", 1)[1]  # the h3 nests under its h2


# --- re-encoding -----------------------------------------------------------------------------


def test_reencoding_applies_the_exif_orientation_and_removes_every_metadata_block():
    result = encode_figure(jpeg_with_metadata(orientation=6))
    assert result.format == "JPEG"
    image = Image.open(io.BytesIO(result.full.data))
    # 60×30 turned a quarter: the red half, on the left, is now at the top.
    assert image.size == (30, 60) == (result.full.width, result.full.height)
    assert image.getpixel((15, 5))[0] > 200 and image.getpixel((15, 55))[2] > 200
    assert dict(image.getexif()) == {}
    assert "icc_profile" not in image.info and "exif" not in image.info and "xmp" not in image.info
    for marker in (
        b"Exif",
        b"GPS",
        b"Zhiku Test Camera",
        b"adobe:ns:meta",
        b"ICC_PROFILE",
        b"http://ns.adobe",
    ):
        assert marker not in result.full.data


def test_png_text_chunks_and_profile_are_dropped_and_the_result_is_stable():
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "someone@example.com")
    info.add_itxt("XML:com.adobe.xmp", "<x:xmpmeta/>")
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = encode(Image.new("RGBA", (40, 20), (10, 20, 30, 128)), "PNG", pnginfo=info, icc_profile=srgb)
    result = encode_figure(data)
    assert result.format == "PNG"
    for chunk in (b"tEXt", b"iTXt", b"zTXt", b"iCCP", b"eXIf", b"someone@example.com"):
        assert chunk not in result.full.data
    assert Image.open(io.BytesIO(result.full.data)).mode == "RGBA"
    # Re-encoding its own output gives the same bytes: a PNG round trip is idempotent.
    assert encode_figure(result.full.data).full.data == result.full.data


def test_a_wide_image_gets_a_narrow_variant_and_a_small_one_none():
    wide = encode_figure(png_bytes((1200, 600)))
    assert (wide.full.width, wide.full.height) == (1200, 600)
    assert (wide.narrow.width, wide.narrow.height) == (480, 240)
    assert Image.open(io.BytesIO(wide.narrow.data)).size == (480, 240)
    assert encode_figure(png_bytes((300, 200))).narrow is None


@pytest.mark.parametrize(
    ("make", "word"),
    [
        (lambda: gif_with_frames(3), "Animated"),
        (lambda: png_with_size(8000, 6000), "40 megapixels"),
        (lambda: png_bomb(12000, 12000), "megapixels"),
        (lambda: b"%PDF-1.7\n", "PDF"),
        (lambda: b"<svg xmlns='http://www.w3.org/2000/svg'/>", "SVG"),
        (lambda: b"not an image at all", "not an image"),
        (lambda: png_bytes((64, 64))[:60], "damaged"),
        (lambda: b"", "empty"),
    ],
)
def test_bad_uploads_are_refused_with_a_clear_message(make, word):
    with pytest.raises(ImageToolError) as caught:
        encode_figure(make())
    assert word in caught.value.message


def test_files_over_twenty_mebibytes_are_refused_before_decoding(monkeypatch):
    with pytest.raises(ImageToolError) as caught:
        encode_figure(png_bytes((8, 8)) + bytes(figure_images.MAX_BYTES))
    assert "20 MiB" in caught.value.message and caught.value.status == 413


def test_pillow_limits_are_not_changed_globally():
    before = Image.MAX_IMAGE_PIXELS
    with pytest.raises(ImageToolError):
        encode_figure(png_with_size(8000, 6000))
    assert before == Image.MAX_IMAGE_PIXELS
    assert before != figure_images.MAX_PIXELS  # Pillow's own default, left alone


# --- the model, its files and the page -------------------------------------------------------


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def stored_files(media: Path) -> list[Path]:
    return sorted(path for path in media.rglob("*") if path.is_file()) if media.exists() else []


def add_figure(question, name="cat", data=None, **fields) -> Figure:
    figure = Figure(question=question, name=name, alt=fields.pop("alt", "一只猫"), **fields)
    figure.store(encode_figure(data or png_bytes()))
    figure.save()
    return figure


@pytest.mark.django_db
def test_saving_a_figure_renders_it_into_the_stored_answer(media):
    question = make_question(answer="前文\n\n![反色后的猫](figure:cat)\n\n后文")
    assert "figure-missing" in question.answer_html
    figure = add_figure(question, caption="反色")
    question.refresh_from_db()
    assert f'src="{figure.as_ref().url}"' in question.answer_html
    assert "<figcaption>反色</figcaption>" in question.answer_html
    assert re.fullmatch(r"figures/\d{4}/\d{2}/[0-9a-f]{32}-[0-9a-f]{16}\.png", figure.image.name)
    assert re.fullmatch(r"figures/\d{4}/\d{2}/[0-9a-f]{32}-480w-[0-9a-f]{16}\.png", figure.narrow.name)
    assert figure.snippet == "![一只猫](figure:cat)"


@pytest.mark.django_db
def test_figure_names_are_unique_within_a_question(media):
    from django.db import IntegrityError, transaction

    question = make_question()
    add_figure(question)
    add_figure(make_question(), name="cat")  # another question may use the name
    with pytest.raises(IntegrityError), transaction.atomic():
        add_figure(question, name="cat")


@pytest.mark.django_db
def test_deleting_a_figure_removes_its_files_and_shows_the_note(media, django_capture_on_commit_callbacks):
    question = make_question(answer="![猫](figure:cat)")
    figure = add_figure(question)
    assert len(stored_files(media)) == 2
    with django_capture_on_commit_callbacks(execute=True):
        figure.delete()
    assert stored_files(media) == []
    question.refresh_from_db()
    assert "figure-missing" in question.answer_html


@pytest.mark.django_db
def test_deleting_the_question_removes_its_figure_files(media, django_capture_on_commit_callbacks):
    question = make_question(answer="![猫](figure:cat)")
    add_figure(question)
    add_figure(question, name="dog")
    with django_capture_on_commit_callbacks(execute=True):
        question.delete()
    assert stored_files(media) == [] and not Figure.objects.exists()


@pytest.mark.django_db
def test_figure_files_are_served_with_long_cache_headers(client, media):
    figure = add_figure(make_question())
    for url, size in ((figure.as_ref().url, (1200, 600)), (figure.as_ref().narrow_url, (480, 240))):
        response = client.get(url)
        assert response.status_code == 200
        assert response["Content-Type"] == "image/png"
        assert response["Cache-Control"] == "public, max-age=31536000, immutable"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert Image.open(io.BytesIO(b"".join(response.streaming_content))).size == size


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    [
        "2025/01/" + "0" * 32 + "-" + "0" * 16 + ".png",  # well formed, not stored
        "../../settings.py",
        "2025/01/x.html",
        "2025/01/" + "0" * 32 + "-" + "0" * 16 + ".svg",
    ],
)
def test_only_stored_figure_names_are_served(client, media, path):
    assert client.get(f"/media/figures/{path}").status_code == 404


@pytest.mark.django_db
def test_figures_add_no_query_to_the_first_page_rendering(media, django_assert_num_queries):
    question = make_question(tags=["python"], answer="![猫](figure:cat)\n\n![狗](figure:dog)")
    add_figure(question)
    add_figure(question, name="dog")
    with django_assert_num_queries(6):
        response = Client().get(question.get_absolute_url())
    assert response.content.decode().count('loading="lazy"') == 2


# --- table of contents, "updated" and dateModified on the page -----------------------------


LONG_ANSWER = "## 公式\n\n$$L = -\\log p$$\n\n## 推导\n\n文字\n\n## 代码\n\n```python\nprint(1)\n```"


@pytest.mark.django_db
def test_a_long_answer_shows_its_table_of_contents(client):
    question = make_question(answer=LONG_ANSWER)
    html = client.get(question.get_absolute_url()).content.decode()
    nav = re.search(r'<nav class="toc" aria-labelledby="toc-heading">.*?</nav>', html, re.DOTALL)[0]
    assert 'id="toc-heading"' in nav and nav.count("<li>") == 3
    short = make_question(answer="## 一\n\n文字")
    assert 'class="toc"' not in client.get(short.get_absolute_url()).content.decode()


@pytest.mark.django_db
def test_answer_updated_moves_only_when_the_answer_text_changes():
    created = timezone.now() - timedelta(days=3)
    question = make_question(created=created)
    assert question.answer_updated == created and not question.answer_revised
    question.title = "只改标题"
    question.save()
    assert question.answer_updated == created
    question = Question.objects.get(pk=question.pk)
    question.answer = "新的回答"
    question.save()
    assert question.answer_updated > created + timedelta(days=2) and question.answer_revised
    question.refresh_from_db()
    assert question.answer_revised


@pytest.mark.django_db
def test_the_page_shows_the_update_time_and_json_ld_date_modified(client):
    created = timezone.now() - timedelta(days=3)
    question = make_question(created=created)
    html = client.get(question.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "更新于" not in html
    data = json.loads(re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.DOTALL)[1])
    assert data["mainEntity"]["acceptedAnswer"]["dateModified"] == created.isoformat()

    question = Question.objects.get(pk=question.pk)
    question.answer = "改过的回答"
    question.save()
    html = Client().get(question.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    stamp = timezone.localtime(question.answer_updated).isoformat()[:19]
    assert re.search(rf'更新于 <time datetime="{re.escape(stamp)}', html)
    data = json.loads(re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.DOTALL)[1])
    assert data["mainEntity"]["acceptedAnswer"]["dateModified"] == question.answer_updated.isoformat()


# --- the admin -------------------------------------------------------------------------------


@pytest.fixture
def admin_client(django_user_model):
    client = Client()
    client.force_login(django_user_model.objects.create_superuser("boss", "boss@example.com", None))
    return client


def change_form(question, files=(), **extra) -> dict:
    data = {
        "title": question.title,
        "slug": question.slug,
        "key": "",
        "is_published": "on",
        "created_0": timezone.localtime(question.created).strftime("%Y-%m-%d"),
        "created_1": timezone.localtime(question.created).strftime("%H:%M:%S"),
        "body": question.body,
        "answer": question.answer,
    }
    for prefix in ("related_links", "recommendations"):
        data.update({f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"})
    data.update({"figures-TOTAL_FORMS": str(len(files)), "figures-INITIAL_FORMS": "0"})
    for index, (name, upload) in enumerate(files):
        data.update(
            {
                f"figures-{index}-name": name,
                f"figures-{index}-alt": "示意图",
                f"figures-{index}-upload": upload,
            }
        )
    data.update(extra)
    return data


def upload(name: str, data: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data, content_type="application/octet-stream")


@pytest.mark.django_db
def test_admin_uploads_a_figure_and_shows_the_snippet(admin_client, media):
    question = make_question(answer="![示意图](figure:before)")
    url = f"/admin/qa/question/{question.pk}/change/"
    response = admin_client.post(
        url, change_form(question, [("before", upload("相机.jpg", jpeg_with_metadata()))])
    )
    assert response.status_code == 302, response.content.decode()[-3000:]
    figure = Figure.objects.get(question=question)
    assert figure.image.name.endswith(".jpg") and b"Exif" not in figure.image.read()
    question.refresh_from_db()
    assert figure.as_ref().url in question.answer_html
    page = admin_client.get(url).content.decode()
    assert "![示意图](figure:before)" in page and 'class="figure-admin-preview"' in page


@pytest.mark.django_db
def test_admin_refuses_a_bad_image_on_the_field_and_writes_nothing(admin_client, media):
    question = make_question()
    url = f"/admin/qa/question/{question.pk}/change/"
    data = change_form(
        question,
        [("ok", upload("ok.png", png_bytes())), ("bomb", upload("炸弹.png", png_bomb(12000, 12000)))],
    )
    response = admin_client.post(url, data, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    body = response.content.decode()
    assert "炸弹.png" in body and "megapixels" in body
    assert not Figure.objects.exists() and stored_files(media) == []


@pytest.mark.django_db
def test_admin_requires_an_image_for_a_new_figure(admin_client, media):
    question = make_question()
    data = change_form(question, [("x", "")])
    response = admin_client.post(f"/admin/qa/question/{question.pk}/change/", data, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200 and "Choose an image file" in response.content.decode()


@pytest.mark.django_db
def test_the_admin_preview_resolves_the_figures_of_the_question_edited(admin_client, media):
    question = make_question()
    figure = add_figure(question)
    text = "![一只猫](figure:cat)"
    preview = "/admin/qa/question/markdown-preview/"
    html = admin_client.post(preview, {"text": text, "object": str(question.pk)}).json()["html"]
    assert figure.as_ref().url in html
    assert "figure-missing" in admin_client.post(preview, {"text": text}).json()["html"]
    page = admin_client.get(f"/admin/qa/question/{question.pk}/change/").content.decode()
    assert f'data-preview-object="{question.pk}"' in page


# --- import and export -----------------------------------------------------------------------


def write_content(folder: Path, figures: list[dict], files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    document = {
        "questions": [
            {
                "key": "inv",
                "title": "反色",
                "answer": "![前](figure:before)\n\n![后](figure:after)",
                "figures": figures,
            }
        ]
    }
    path = folder / "content.json"
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    return path


FIGURES = [
    {"name": "before", "file": "files/before.png", "alt": "原图", "caption": "原图"},
    {"name": "after", "file": "files/after.jpg", "alt": "反色后"},
]


@pytest.mark.django_db
def test_import_stores_figures_and_export_round_trips_them(media, tmp_path):
    source = tmp_path / "in"
    files = {"files/before.png": png_bytes(), "files/after.jpg": jpeg_with_metadata()}
    import_content(path=write_content(source, FIGURES, files))
    question = Question.objects.get(key="inv")
    assert [f.name for f in question.figures.order_by("name")] == ["after", "before"]
    assert (
        "figure-missing" not in question.answer_html
        and "<figcaption>原图</figcaption>" in question.answer_html
    )

    out = tmp_path / "out"
    export_content(directory=out)
    exported = json.loads((out / "content.json").read_text(encoding="utf-8"))["questions"][0]["figures"]
    assert {entry["name"] for entry in exported} == {"before", "after"}
    assert [entry.get("caption") for entry in exported if entry["name"] == "before"] == ["原图"]
    before = Figure.objects.get(name="before")
    written = {entry["name"]: (out / entry["file"]).read_bytes() for entry in exported}
    assert written["before"] == before.image.read()  # the stored, re-encoded image
    assert b"Exif" not in written["after"]

    # Re-importing the export into the same site keeps the stored files as they are.
    names = sorted(f.image.name for f in Figure.objects.all())
    import_content(path=out / "content.json")
    assert sorted(f.image.name for f in Figure.objects.all()) == names

    # Into an empty site: nothing lost, and the PNG comes back byte for byte.
    Question.objects.all().delete()
    import_content(path=out / "content.json")
    again = Figure.objects.get(name="before")
    assert again.image.read() == written["before"] and again.alt == "原图"
    assert Figure.objects.get(name="after").width == 30


@pytest.mark.django_db
def test_a_bad_figure_refuses_the_whole_import_naming_item_and_field(media, tmp_path):
    files = {"files/before.png": png_bytes(), "files/after.jpg": b"%PDF-1.4 not a picture"}
    with pytest.raises(TransferError) as caught:
        import_content(path=write_content(tmp_path, FIGURES, files))
    problem = "\n".join(caught.value.problems)
    assert 'questions[0] (key "inv"), field "figures"[1], field "file"' in problem and "PDF" in problem
    assert not Question.objects.exists() and not Figure.objects.exists()
    assert stored_files(media) == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("figures", "word"),
    [
        ([{"name": "a b", "file": "files/before.png", "alt": "x"}], "slug"),
        ([{"name": "a", "file": "files/before.png"}], '"alt": is required'),
        ([{"name": "a", "file": "files/missing.png", "alt": "x"}], "does not exist"),
        ([{"name": "a", "file": "../before.png", "alt": "x"}], "no .."),
        ([{"name": "a", "file": "files/before.png", "alt": "x", "size": 3}], "not a known field"),
        ([{"name": "a", "file": "files/before.png", "alt": "x"}] * 2, "another figure"),
        ("files/before.png", "must be a list"),
    ],
)
def test_figure_entries_are_checked(media, tmp_path, figures, word):
    with pytest.raises(TransferError) as caught:
        import_content(path=write_content(tmp_path, figures, {"files/before.png": png_bytes((20, 20))}))
    assert word in "\n".join(caught.value.problems)
    assert not Question.objects.exists() and stored_files(media) == []


@pytest.mark.django_db
def test_images_come_from_the_site_only_except_on_the_image_tool_page(client):
    question = make_question()
    policy = client.get(question.get_absolute_url())["Content-Security-Policy"]
    assert "img-src 'self';" in policy + ";"
    tool = client.get("/tools/invert/")["Content-Security-Policy"]
    assert re.search(r"img-src 'self' data: blob:", tool)
