"""Installs the DST-CBC MMSegmentation extension (package ``dst_cbc``)."""
from setuptools import find_packages, setup


def parse_requirements(path: str) -> list:
    """Read requirement lines, skipping comments and nested ``-r`` files."""
    with open(path, encoding='utf-8') as f:
        lines = (line.split('#')[0].strip() for line in f)
        return [line for line in lines if line and not line.startswith('-')]


setup(
    name='dst-cbc',
    version='0.1.0',
    description='Semi-supervised semantic segmentation by Dynamic '
    'Self-Training '
    'and Class-Balanced Curriculum, as an MMSegmentation 1.x extension',
    python_requires='>=3.9',
    package_dir={'': 'projects'},
    packages=find_packages('projects'),
    install_requires=parse_requirements('requirements/runtime.txt') +
    parse_requirements('requirements/mminstall.txt'),
    extras_require={
        'tests': parse_requirements('requirements/tests.txt'),
        'optional': parse_requirements('requirements/optional.txt'),
    },
)
