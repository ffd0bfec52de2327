"""The backup and restore drill of docs/deploy.md §8, as tests.

Whatever the backup, the proof of it is the restored site: the JSON API of
every question and resource (docs/api) must read the same after a restore into
an empty database as before it, file contents included. Comparing what the API
shows, rather than tables, keeps the drill honest as models are added.

* The portable export (``export_content`` → ``import_content``): ids are new
  after an import, so questions and resources are matched by import key and
  ids are left out of the comparison. Runs in ``make test``.
* ``pg_dump`` + a media tarball, restored with ``pg_restore`` into a new
  database on a private PostgreSQL cluster: identical ids and all. Marked
  ``faults`` (it starts a cluster), run by .ci/faults.sh.
"""

import hashlib
import json
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import psycopg
import pytest
from django.core.management import call_command

from bench.server import bench_environment
from tests.conftest import ROOT

DEMO = ROOT / "qa" / "demo" / "demo.json"
_ID_IN_URL = re.compile(r"/(questions|resources)/\d+/")
# A restored figure is stored again under a new generated name; its content hash stays.
_FIGURE_NAME = re.compile(r"figures/\d{4}/\d{2}/[0-9a-f]{32}-")


def snapshot(*, keep_ids: bool) -> dict:
    """What the API shows for every published question and resource, by import key
    (title when there is none), with each stored file's SHA-256."""
    from django.test import Client

    from qa.models import Question
    from resources.models import Resource

    client = Client()

    def read(path: str) -> dict:
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
        return normalise(json.loads(response.content), keep_ids=keep_ids)

    shown = {"questions": {}, "resources": {}}
    for question in Question.objects.published().order_by("pk"):
        shown["questions"][question.key or question.title] = read(f"/api/questions/{question.pk}/")
    for resource in Resource.objects.published().order_by("pk"):
        entry = read(f"/api/resources/{resource.pk}/")
        with resource.file.open("rb") as fh:
            entry["stored_file_sha256"] = hashlib.sha256(fh.read()).hexdigest()
        shown["resources"][resource.key or resource.title] = entry
    return shown


def normalise(value, *, keep_ids: bool):
    if keep_ids:
        return value
    if isinstance(value, dict):
        return {k: normalise(v, keep_ids=False) for k, v in value.items() if k != "id"}
    if isinstance(value, list):
        return [normalise(v, keep_ids=False) for v in value]
    if isinstance(value, str):
        return _FIGURE_NAME.sub("figures/…/", _ID_IN_URL.sub(r"/\1/#/", value))
    return value


def snapshot_in_child(env: dict, *, keep_ids: bool, before: tuple = ()) -> dict:
    """``snapshot`` of the site ``env`` points at, after running ``manage.py`` commands ``before``."""
    code = (
        "import django, json, sys\n"
        "django.setup()\n"
        "from django.core.management import call_command\n"
        f"for command in {list(before)!r}:\n"
        "    call_command(*command, verbosity=0)\n"
        "from tests.test_backup import snapshot\n"
        f"print(json.dumps(snapshot(keep_ids={keep_ids!r}), ensure_ascii=False))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.django_db(transaction=True)
def test_an_export_restored_into_an_empty_database_shows_the_same_api(tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"
    call_command("load_demo", str(DEMO), verbosity=0)
    before = snapshot(keep_ids=False)
    assert before["questions"] and before["resources"]
    backup = tmp_path / "export"
    call_command("export_content", str(backup), verbosity=0)

    restored = tmp_path / "restored"
    restored.mkdir()
    env = bench_environment(restored, f"sqlite:///{restored / 'db.sqlite3'}")
    after = snapshot_in_child(
        env, keep_ids=False, before=(("migrate", "--noinput"), ("import_content", str(backup)))
    )
    assert after == before


@pytest.mark.faults
def test_a_pg_dump_and_media_tarball_restore_shows_the_same_api(tmp_path):
    from tests.test_faults import PrivatePostgres

    with PrivatePostgres() as pg:
        site = tmp_path / "site"
        env = bench_environment(site, pg.url)
        before = snapshot_in_child(
            env, keep_ids=True, before=(("migrate", "--noinput"), ("load_demo", str(DEMO)))
        )
        assert before["questions"] and before["resources"]

        dump, tarball = tmp_path / "zhiku.dump", tmp_path / "media.tar.gz"
        subprocess.run([str(pg.bin / "pg_dump"), "--format=custom", "--no-owner", f"--file={dump}", pg.url],
                       check=True, timeout=120)  # fmt: skip
        with tarfile.open(tarball, "w:gz") as tar:
            tar.add(env["MEDIA_ROOT"], arcname=".")

        with psycopg.connect(pg.url.replace("/zhiku", "/postgres"), autocommit=True) as conn:
            conn.execute("CREATE DATABASE restored TEMPLATE template0 ENCODING 'UTF8' LOCALE 'C.UTF-8'")
        restored_url = pg.url.replace("/zhiku", "/restored")
        subprocess.run([str(pg.bin / "pg_restore"), "--no-owner", f"--dbname={restored_url}", str(dump)],
                       check=True, timeout=120)  # fmt: skip
        restored = tmp_path / "restored"
        restored_env = bench_environment(restored, restored_url)
        media = Path(restored_env["MEDIA_ROOT"])
        media.mkdir(parents=True)
        with tarfile.open(tarball) as tar:
            tar.extractall(media, filter="data")
        after = snapshot_in_child(restored_env, keep_ids=True, before=(("migrate", "--noinput"),))
    assert after == before
