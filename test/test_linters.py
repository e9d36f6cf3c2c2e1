"""ament linters as tests: flake8, pep257 and XML well-formedness/package format."""

from __future__ import annotations

from pathlib import Path
import subprocess
import sys
import xml.etree.ElementTree as ElementTree

from catkin_pkg.package import parse_package
import pytest

ROOT = Path(__file__).resolve().parents[1]
PYTHON_DIRS = [str(ROOT / d) for d in ('robot_bridges', 'test', 'bench', 'launch')
               if (ROOT / d).is_dir()] + [str(ROOT / 'setup.py')]


def run_linter(module: str, *paths: str) -> None:
    # In a fresh process: flake8 forks worker processes, and forking this test process,
    # which has rclpy and asyncio threads by now, can deadlock.
    result = subprocess.run([sys.executable, '-m', module, *paths], capture_output=True,
                            text=True, timeout=240)
    # The findings, not the list of checked files that follows them.
    findings = [line for line in result.stdout.splitlines()
                if line.startswith(('/', ROOT.name)) and ':' in line and
                not line.lstrip().startswith('*') and not line.startswith('checking ')]
    assert result.returncode == 0, '\n'.join(findings[:60]) + result.stderr[-2000:]


@pytest.mark.linter
def test_flake8() -> None:
    run_linter('ament_flake8.main', *PYTHON_DIRS)


@pytest.mark.linter
def test_pep257() -> None:
    run_linter('ament_pep257.main', *(str(ROOT / d) for d in ('robot_bridges', 'launch', 'bench')))


@pytest.mark.linter
def test_xml_files_are_well_formed_and_package_xml_is_valid() -> None:
    for path in ROOT.glob('**/*.xml'):
        if '.ros' not in path.parts:
            ElementTree.parse(path)
    package = parse_package(str(ROOT / 'package.xml'))
    package.validate()
    assert package.name == 'robot_bridges'
    assert package.get_build_type() == 'ament_cmake'
