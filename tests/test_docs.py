"""The reference pages are what docs/gen_reference.py makes of the code today, and they cover it:
every command and option of the parser, every section and field of the config."""
import argparse
import dataclasses
import importlib.util
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GENERATOR = os.path.join(REPO, "docs", "gen_reference.py")
CLI_PAGE = os.path.join(REPO, "docs", "reference", "cli.md")
CONFIG_PAGE = os.path.join(REPO, "docs", "reference", "config.md")


def generator():
    spec = importlib.util.spec_from_file_location("gen_reference", GENERATOR)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module   # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def read(path: str) -> str:
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def section(page: str, heading: str) -> str:
    """The text under ``heading`` (a ``## `` line) up to the next one."""
    start = page.index(f"\n{heading}\n")
    end = page.find("\n## ", start + 1)
    return page[start:] if end < 0 else page[start:end]


def test_committed_pages_are_what_the_generator_prints():
    result = subprocess.run([sys.executable, GENERATOR, "--check"], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr or result.stdout


def test_check_names_the_stale_page(tmp_path, monkeypatch, capsys):
    gen = generator()
    fresh = gen.pages()
    cli, config = tmp_path / "cli.md", tmp_path / "config.md"
    cli.write_text(fresh[gen.PAGES["cli"]], encoding="utf-8")
    config.write_text(fresh[gen.PAGES["config"]].replace("| `hop` |", "| `hops` |"), encoding="utf-8")
    monkeypatch.setattr(gen, "PAGES", {"cli": str(cli), "config": str(config)})
    assert gen.main(["--check"]) == 1
    message = capsys.readouterr().err.strip().splitlines()
    assert len(message) == 1 and "config.md is stale" in message[0] and "cli.md" not in message[0]


def test_cli_reference_names_every_command_and_option():
    from peakclip.workers.cli import build_parser

    page = read(CLI_PAGE)
    commands = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)][0].choices
    assert len(commands) >= 9
    for name, parser in commands.items():
        text = section(page, f"## peakclip {name}")
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            if action.option_strings:
                for option in action.option_strings:
                    assert f"`{option}`" in text, f"peakclip {name} {option} is missing from docs/reference/cli.md"
            else:
                shown = action.metavar or action.dest
                assert f"`{shown}" in text, f"peakclip {name}'s {shown} is missing from docs/reference/cli.md"
            if action.help:
                assert action.help.split(";")[0][:40] in text.replace("&lt;", "<"), f"help of {action.dest} ({name})"


def test_config_reference_names_every_section_and_field():
    from peakclip.pipeline.config import ENV_ALIASES, Config

    page = read(CONFIG_PAGE)
    defaults = Config()
    for group in dataclasses.fields(Config):
        text = section(page, f"## {group.name}")
        for field in dataclasses.fields(getattr(defaults, group.name)):
            assert f"| `{field.name}` |" in text, f"{group.name}.{field.name} is missing from docs/reference/config.md"
            assert f"`PEAKCLIP_{group.name.upper()}_{field.name.upper()}`" in text
    for name in ENV_ALIASES:
        assert f"`{name}`" in page


def test_field_comments_are_read_from_the_source(tmp_path, monkeypatch):
    """A comment at the end of a field's line, comment lines above it, and fields a comment above
    speaks for."""
    (tmp_path / "example_config.py").write_text(
        "from dataclasses import dataclass, field\n\n\n"
        "@dataclass\n"
        "class ExampleConfig:\n"
        "    speed: float = 1.0      # how fast | not slow\n"
        "    # Every `rest` seconds a pause of\n"
        "    # `pause` seconds.\n"
        "    rest: float = 2.0\n"
        "    pause: float = 0.5\n"
        "    names: list[str] = field(default_factory=lambda: [\n"
        "        \"a\", \"b\"])        # who\n"
        "    colour: str | None = None\n"
        "\n"
        "    def weight(self):  # not a field\n"
        "        return 1\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    from example_config import ExampleConfig

    docs = generator().field_docs(ExampleConfig)
    assert docs["speed"].comment == "how fast | not slow"
    assert docs["rest"].comment == "Every `rest` seconds a pause of `pause` seconds."
    assert docs["pause"].comment == "See `rest`."
    assert docs["names"].comment == "who" and docs["names"].type == "list[str]"
    assert docs["colour"].comment == "" and docs["colour"].type == "str | None"
    assert set(docs) == {"speed", "rest", "pause", "names", "colour"}
