"""CI runs exactly the README's test command, then the slow tests it
leaves out."""
import configparser
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SLOW_COMMAND = '.venv/bin/python -m pytest tests -q -m slow'


def _readme_test_command():
    readme = (ROOT / 'README.md').read_text()
    match = re.search(r'<!-- test-command -->\s*```bash\n(.+?)\n```', readme,
                      re.S)
    assert match, ('README.md must mark its test command with '
                   '<!-- test-command -->')
    return match.group(1).strip()


def _ci_lines():
    return [
        line.strip() for line in (ROOT / '.ci/run').read_text().splitlines()
    ]


def test_ci_runs_the_readme_test_command():
    assert _readme_test_command() in _ci_lines()


def test_ci_runs_the_slow_tests_the_readme_command_leaves_out():
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(ROOT / 'setup.cfg')
    settings = parser['tool:pytest']
    assert settings['addopts'].strip() == '-m "not slow"'
    assert settings['markers'].split()[0] == 'slow:'  # registered
    lines = _ci_lines()
    assert SLOW_COMMAND in lines
    assert lines.index(SLOW_COMMAND) > lines.index(_readme_test_command())
