# Imported targets of ROS packages installed from PyPI wheels carry include directories of the
# machine that built the wheels (e.g. /opt/python/cp311-cp311/include/python3.11). CMake refuses
# to generate with an imported target that names a missing path. The real Python and NumPy
# include directories are found separately, so the stale entries are simply dropped.
# On a normal ROS installation every listed path exists and this changes nothing.
function(robot_bridges_drop_stale_include_dirs)
  get_property(imported_targets DIRECTORY PROPERTY IMPORTED_TARGETS)
  foreach(target IN LISTS imported_targets)
    get_target_property(dirs ${target} INTERFACE_INCLUDE_DIRECTORIES)
    if(NOT dirs)
      continue()
    endif()
    set(kept "")
    set(dropped "")
    foreach(dir IN LISTS dirs)
      if(dir MATCHES "^\\$<" OR EXISTS "${dir}")
        list(APPEND kept "${dir}")
      else()
        list(APPEND dropped "${dir}")
      endif()
    endforeach()
    if(dropped)
      message(STATUS "robot_bridges: ${target}: dropping missing include dirs: ${dropped}")
      set_target_properties(${target} PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${kept}")
    endif()
  endforeach()
endfunction()
