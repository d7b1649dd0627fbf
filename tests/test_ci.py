"""CI runs exactly the README's test command."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / 'README.md').read_text()
    match = re.search(r'<!-- test-command -->\s*```bash\n(.+?)\n```', readme,
                      re.S)
    assert match, ('README.md must mark its test command with '
                   '<!-- test-command -->')
    command = match.group(1).strip()
    ci_lines = [
        line.strip() for line in (ROOT / '.ci/run').read_text().splitlines()
    ]
    assert command in ci_lines
