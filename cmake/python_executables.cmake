# setup.py is the single description of the Python package: its metadata and its console
# entry points. At configure time setuptools writes the standard egg-info from it; this
# installs that egg-info next to the sources (so importlib.metadata sees the package, as
# ament_python_install_package would arrange) and turns every console_scripts entry into an
# executable under lib/${PROJECT_NAME}, where `ros2 run` looks.
function(robot_bridges_install_python_executables python_install_dir)
  # A new entry point in setup.py must reach an incremental build too.
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
    "${CMAKE_CURRENT_SOURCE_DIR}/setup.py")
  set(egg_base "${CMAKE_CURRENT_BINARY_DIR}/egg_info")
  file(MAKE_DIRECTORY "${egg_base}")
  execute_process(
    COMMAND "${Python3_EXECUTABLE}" setup.py --quiet egg_info --egg-base "${egg_base}"
    WORKING_DIRECTORY "${CMAKE_CURRENT_SOURCE_DIR}"
    RESULT_VARIABLE result
    OUTPUT_QUIET)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "setup.py egg_info failed (${result})")
  endif()
  file(GLOB egg_info_dir LIST_DIRECTORIES true "${egg_base}/*.egg-info")
  install(DIRECTORY "${egg_info_dir}" DESTINATION "${python_install_dir}")

  file(STRINGS "${egg_info_dir}/entry_points.txt" lines)
  set(section "")
  foreach(line IN LISTS lines)
    if(line MATCHES "^\\[(.+)\\]$")
      set(section "${CMAKE_MATCH_1}")
    elseif(section STREQUAL "console_scripts" AND
        line MATCHES "^([A-Za-z0-9_]+) *= *([A-Za-z0-9_.]+):([A-Za-z0-9_]+)$")
      set(script "${CMAKE_CURRENT_BINARY_DIR}/scripts/${CMAKE_MATCH_1}")
      file(WRITE "${script}"
        "#!${Python3_EXECUTABLE}\n"
        "import sys\n"
        "from ${CMAKE_MATCH_2} import ${CMAKE_MATCH_3}\n"
        "sys.exit(${CMAKE_MATCH_3}())\n")
      install(PROGRAMS "${script}" DESTINATION "lib/${PROJECT_NAME}")
    endif()
  endforeach()
endfunction()
