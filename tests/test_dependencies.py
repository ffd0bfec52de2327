"""Which way the imports between the apps run (docs: README's layout table)."""

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def imported_modules(app: str):
    for path in sorted((REPO / app).rglob("*.py")):
        if "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module in {"qa", "resources"}:
                for alias in node.names:  # from qa import freshness
                    yield path.relative_to(REPO), f"{node.module}.{alias.name}"
            elif isinstance(node, ast.ImportFrom) and node.module:
                yield path.relative_to(REPO), node.module
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    yield path.relative_to(REPO), alias.name


def test_resources_uses_qa_only_for_models_markdown_counting_and_the_content_version():
    allowed = {"qa.models", "qa.markdown", "qa.counting", "qa.freshness"}
    wrong = [
        f"{path}: {module}"
        for path, module in imported_modules("resources")
        if (module == "qa" or module.startswith("qa.")) and module not in allowed
    ]
    assert not wrong


def test_qa_uses_resources_only_for_models_schemas_and_the_image_checks():
    """Figures are checked by the image tool's own pure validation code; the API
    shares the resource JSON schemas. Never the other app's views or admin."""
    allowed = {"resources.models", "resources.schemas", "resources.imaging"}
    wrong = [
        f"{path}: {module}"
        for path, module in imported_modules("qa")
        if (module == "resources" or module.startswith("resources.")) and module not in allowed
    ]
    assert not wrong


@pytest.mark.parametrize("app", ["qa", "resources"])
def test_shared_code_comes_from_config(app):
    """Rate limits and JSON helpers live in config/, where both apps may depend on them."""
    modules = {module for _path, module in imported_modules(app)}
    assert "qa.ratelimit" not in modules and "qa.api" not in modules
