# For building another interface package against the PyPI wheels (scripts/peers.sh builds
# ros2/rcl_interfaces' composition_interfaces with -DCMAKE_PROJECT_INCLUDE=<this file>): runs
# robot_bridges_drop_stale_include_dirs() once that package's CMakeLists.txt has been read,
# before CMake generates, as this project's CMakeLists.txt does at its end.
include("${CMAKE_CURRENT_LIST_DIR}/drop_stale_include_dirs.cmake")
cmake_language(DEFER DIRECTORY "${CMAKE_SOURCE_DIR}" CALL robot_bridges_drop_stale_include_dirs)
