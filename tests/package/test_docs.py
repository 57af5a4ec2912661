"""The README and the pages of docs/ as a newcomer reads them: every link and image resolves,
every ``asyncpc`` command in their code blocks parses, the key reference is the one generated
from the declarations, and the README stays a front door (a few screens)."""

import re
import shlex
from pathlib import Path

import pytest

from asyncpc import scenario as sc
from asyncpc.cli import parser

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def links(page: Path) -> list[str]:
    """Relative targets of Markdown links and images (web addresses and anchors left out)."""
    targets = re.findall(r"\]\(([^)\s]+)\)", page.read_text())
    return [t for t in targets if not re.match(r"[a-z]+://", t) and not t.startswith("#")]


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_every_link_and_image_resolves(page):
    for target in links(page):
        assert (page.parent / target.split("#")[0]).exists(), f"{page.name}: {target}"


def commands(page: Path) -> list[list[str]]:
    """``asyncpc …`` commands of the page's bash code blocks (continued lines joined, after
    ``&&``, environment assignments and comments dropped)."""
    out = []
    for block in re.findall(r"```bash\n(.*?)```", page.read_text(), flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            for part in line.split("&&"):
                words = shlex.split(part, comments=True)
                while words and re.fullmatch(r"[A-Z_]+=\S*", words[0]):
                    words = words[1:]
                if words[:1] == ["asyncpc"]:
                    out.append(words[1:])
    return out


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_every_command_shown_parses(page):
    for argv in commands(page):
        parser().parse_args(argv)  # SystemExit on an unknown verb or flag


def test_the_pages_show_commands_and_the_check_can_fail():
    """Negative control: the README's commands are found, and a wrong flag does not parse."""
    assert any(argv[:1] == ["run"] for argv in commands(ROOT / "README.md"))
    with pytest.raises(SystemExit):
        parser().parse_args(["run", "xor", "--no-such-flag"])


def test_the_key_reference_is_generated_from_the_declarations():
    page = (ROOT / "docs" / "scenario-files.md").read_text()
    assert "\n" + sc.reference_markdown() + "\n<!-- /keys -->" in page
    for schema in (sc.POPULATION, sc.EDGE, sc.DIST, *sc.SECTIONS.values()):
        for key in schema:
            assert f"| `{key}` |" in page, key


def test_the_readme_is_a_front_door():
    """What asyncpc is, the two commands, a tour, the model, links — a few screens, the rest
    in docs/, every page of which the README links."""
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 200
    assert readme.index("pip install -e '.[data]'") < readme.index("pip install -e '.[test]'")
    for page in PAGES[1:]:
        assert f"](docs/{page.name})" in readme, page.name
