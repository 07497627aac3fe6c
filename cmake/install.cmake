# cpc as an installed library: the headers, libcpc.a, a CMake package (find_package(cpc),
# target cpc::cpc) and a pkg-config file (cpc.pc). All of it is the "dev" component, which
# `make package` turns into libcpc-dev (cmake/package.cmake). Included from the top-level
# CMakeLists.txt right after the cpc target.
include(CMakePackageConfigHelpers)

# A project that add_subdirectory()s cpc links it into its own programs and usually has no
# use for cpc's headers in its install tree.
option(CPC_INSTALL "Install the cpc library, its headers and its CMake and pkg-config files"
       ${PROJECT_IS_TOP_LEVEL})
if(NOT CPC_INSTALL)
  return()
endif()

set(CPC_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/cpc)

install(TARGETS cpc EXPORT cpcTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/cpc
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT dev)
install(FILES ${PROJECT_BINARY_DIR}/include/cpc/version.hpp
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/cpc COMPONENT dev)

# libcpc.a is a static archive: its private dependencies (Threads, liburing, hwloc when it was
# found) are needed on every link, so cpcConfig.cmake finds them again (CPC_USES_HWLOC says
# whether this build used hwloc), under the names the exported target refers to.
set(CPC_USES_HWLOC OFF)
if(HWLOC_FOUND)
  set(CPC_USES_HWLOC ON)
endif()
install(EXPORT cpcTargets NAMESPACE cpc:: DESTINATION ${CPC_INSTALL_CMAKEDIR} COMPONENT dev)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/cpcConfig.cmake.in
  ${PROJECT_BINARY_DIR}/cpcConfig.cmake INSTALL_DESTINATION ${CPC_INSTALL_CMAKEDIR})
# 0.x: a new minor version may break the API, so only the same MAJOR.MINOR is compatible.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/cpcConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/cpcConfig.cmake ${PROJECT_BINARY_DIR}/cpcConfigVersion.cmake
  DESTINATION ${CPC_INSTALL_CMAKEDIR} COMPONENT dev)

# cpc.pc finds its prefix from its own place (${pcfiledir}), so the same file works in /usr,
# /usr/local or a temporary prefix. The static archive's dependencies go in Requires, not
# Requires.private: `pkg-config --libs cpc` without --static must give a command line that links.
file(RELATIVE_PATH CPC_PC_TO_PREFIX /root/${CMAKE_INSTALL_LIBDIR}/pkgconfig /root)
string(REGEX REPLACE "/$" "" CPC_PC_TO_PREFIX "${CPC_PC_TO_PREFIX}")
set(CPC_PC_REQUIRES liburing)
if(CPC_USES_HWLOC)
  string(APPEND CPC_PC_REQUIRES " hwloc")
endif()
configure_file(${PROJECT_SOURCE_DIR}/cmake/cpc.pc.in ${PROJECT_BINARY_DIR}/cpc.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/cpc.pc
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT dev)
