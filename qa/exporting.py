"""Exporting every question and resource as a content folder (docs/import-format.md)."""

import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath

from django.db.models import Prefetch
from django.utils import timezone

from qa.models import Question, RelatedQuestion
from qa.transfer import CONTENT_FILE, FILES_DIR, TransferError, is_plain_name
from resources.models import Recommendation, Resource

# Figure images go to files/figures/ (files/ holds the resources).
FIGURES_DIR = "figures"


@dataclass
class ExportSummary:
    questions: int
    resources: int
    path: Path


def _local_iso(moment: datetime) -> str:
    return timezone.localtime(moment).isoformat()


def _export_keys(rows, prefix: str) -> dict[int, str]:
    """Each row's key; rows without one get ``<prefix><id>``, kept clear of real keys."""
    taken = {row.key for row in rows if row.key}
    keys = {}
    for row in rows:
        key = row.key
        if not key:
            key, n = f"{prefix}{row.pk}", 2
            while key in taken:
                key, n = f"{prefix}{row.pk}-{n}", n + 1
            taken.add(key)
        keys[row.pk] = key
    return keys


def _export_name(resource: Resource, key: str, used: set[str]) -> str:
    """A file name for the export folder: the original name, made unique and safe."""
    name = resource.original_name or PurePosixPath(resource.file.name).name
    if not is_plain_name(name):
        name = f"{key}{PurePosixPath(resource.file.name).suffix}"
    stem, suffix = os.path.splitext(name)
    candidate, n = name, 2
    # Case-insensitive, because exports are often unpacked on such file systems.
    while candidate.casefold() in used:
        candidate, n = f"{stem}-{n}{suffix}", n + 1
    used.add(candidate.casefold())
    return candidate


def _copy_out(file, destination: Path) -> None:
    with file.open("rb") as source, destination.open("wb") as out:
        for chunk in source.chunks():
            out.write(chunk)


def export_content(*, directory: Path) -> ExportSummary:
    """Write every question and resource to ``directory``/content.json plus ``files/``.

    The folder must be new or empty, so an export never mixes with older files.
    """
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise TransferError([f"{directory}: must be a new or empty folder"])
    resources = list(Resource.objects.order_by("pk"))
    questions = list(
        Question.objects.order_by("pk").prefetch_related(
            "tags",
            "figures",
            Prefetch("related_links", queryset=RelatedQuestion.objects.order_by("position", "pk")),
            Prefetch("recommendations", queryset=Recommendation.objects.order_by("position", "pk")),
        )
    )
    resource_keys = _export_keys(resources, "r")
    question_keys = _export_keys(questions, "q")

    missing = [
        f'resource {resource_keys[r.pk]} ("{r.title}"): its file {r.file.name!r} is not in storage'
        for r in resources
        if not r.file or not r.file.storage.exists(r.file.name)
    ] + [
        f'question {question_keys[q.pk]}, figure "{f.name}": its file {f.image.name!r} is not in storage'
        for q in questions
        for f in q.figures.all()
        if not f.image or not f.image.storage.exists(f.image.name)
    ]
    if missing:
        raise TransferError(missing)

    files_dir = directory / FILES_DIR
    files_dir.mkdir(parents=True, exist_ok=True)
    used: set[str] = set()
    resource_data = []
    for resource in resources:
        key = resource_keys[resource.pk]
        name = _export_name(resource, key, used)
        _copy_out(resource.file, files_dir / name)
        entry = {
            "key": key,
            "title": resource.title,
            "description": resource.description,
            "file": f"{FILES_DIR}/{name}",
            "created": _local_iso(resource.created),
            "downloads": resource.downloads,
            "published": resource.is_published,
        }
        if resource.original_name and resource.original_name != name:
            entry["name"] = resource.original_name
        resource_data.append(entry)

    question_data = [
        {
            **_question_entry(question, question_keys, resource_keys),
            **_figure_entries(question, files_dir),
        }
        for question in questions
    ]
    document = {"questions": question_data, "resources": resource_data}
    (directory / CONTENT_FILE).write_text(
        json.dumps(document, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    return ExportSummary(questions=len(questions), resources=len(resources), path=directory / CONTENT_FILE)


def _question_entry(question: Question, question_keys: dict, resource_keys: dict) -> dict:
    return {
        "key": question_keys[question.pk],
        "title": question.title,
        "question": question.body,
        "answer": question.answer,
        "tags": [tag.name for tag in question.tags.all()],
        "created": _local_iso(question.created),
        "views": question.views,
        "published": question.is_published,
        **({"publish_at": _local_iso(question.publish_at)} if question.publish_at else {}),
        "related": [question_keys[link.to_question_id] for link in question.related_links.all()],
        "resources": [resource_keys[rec.resource_id] for rec in question.recommendations.all()],
    }


def _figure_entries(question: Question, files_dir: Path) -> dict:
    """``{"figures": [...]}`` with each stored (re-encoded) image written out, or {} when it has none."""
    figures = list(question.figures.all())
    if not figures:
        return {}
    folder = files_dir / FIGURES_DIR
    folder.mkdir(exist_ok=True)
    entries = []
    for figure in figures:
        # The question id keeps names apart; a figure name is a slug, safe in a file name.
        name = f"{question.pk}-{figure.name}{PurePosixPath(figure.image.name).suffix}"
        _copy_out(figure.image, folder / name)
        entry = {"name": figure.name, "file": f"{FILES_DIR}/{FIGURES_DIR}/{name}", "alt": figure.alt}
        if figure.caption:
            entry["caption"] = figure.caption
        entries.append(entry)
    return {"figures": entries}
