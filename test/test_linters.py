"""ament linters as tests: flake8, pep257 and XML well-formedness/package format."""

from __future__ import annotations

from pathlib import Path
import xml.etree.ElementTree as ElementTree

from ament_flake8.main import main_with_errors as flake8_main
from ament_pep257.main import main as pep257_main
from catkin_pkg.package import parse_package
import pytest

ROOT = Path(__file__).resolve().parents[1]
PYTHON_DIRS = [str(ROOT / d) for d in ('robot_bridges', 'test', 'bench', 'launch')
               if (ROOT / d).is_dir()] + [str(ROOT / 'setup.py')]


@pytest.mark.linter
def test_flake8() -> None:
    rc, errors = flake8_main(argv=PYTHON_DIRS)
    assert rc == 0, f'{len(errors)} flake8 error(s):\n' + '\n'.join(errors)


@pytest.mark.linter
def test_pep257() -> None:
    assert pep257_main(argv=[str(ROOT / 'robot_bridges'), str(ROOT / 'launch')]) == 0


@pytest.mark.linter
def test_xml_files_are_well_formed_and_package_xml_is_valid() -> None:
    for path in ROOT.glob('**/*.xml'):
        if '.ros' not in path.parts:
            ElementTree.parse(path)
    package = parse_package(str(ROOT / 'package.xml'))
    package.validate()
    assert package.name == 'robot_bridges'
    assert package.get_build_type() == 'ament_cmake'
