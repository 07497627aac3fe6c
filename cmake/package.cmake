# `make package`: three Debian packages made by CPack from the install components.
#   libcpc-dev  the library (component dev, cmake/install.cmake): headers, libcpc.a, the CMake
#               package and cpc.pc
#   hekate      the BitTorrent seeder     (component hekate)
#   cpc-httpd   the static web server     (component httpd)
# Each server package holds its binary, a man page made by help2man from its --help and
# --version, its README, and its systemd unit once the tree has one (apps/<app>/*.service).
# Included from the top-level CMakeLists.txt, after the applications, when cpc is the
# top-level project.
if(NOT TARGET hekate OR NOT TARGET httpd)
  return()
endif()

find_program(CPC_HELP2MAN help2man)
if(NOT CPC_HELP2MAN)
  message(STATUS "help2man not found (scripts/install-deps test): packages without man pages")
endif()

function(cpc_install_server target component package summary)
  install(TARGETS ${target} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT ${component})
  install(FILES ${PROJECT_SOURCE_DIR}/apps/${target}/README.md
    DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/${package} COMPONENT ${component})
  file(GLOB units ${PROJECT_SOURCE_DIR}/apps/${target}/*.service)
  if(units)
    install(FILES ${units} DESTINATION lib/systemd/system COMPONENT ${component})
  endif()
  # A sanitizer tree is not packaged, so its binaries are not run at build time for this.
  if(CPC_HELP2MAN AND NOT CPC_SANITIZE AND NOT CPC_TSAN)
    set(page ${PROJECT_BINARY_DIR}/man/${target}.1)
    add_custom_command(OUTPUT ${page}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${PROJECT_BINARY_DIR}/man
      COMMAND ${CPC_HELP2MAN} --no-info --section 1 --name ${summary} --output ${page}
              $<TARGET_FILE:${target}>
      DEPENDS ${target}
      COMMENT "Man page of ${target} (help2man)"
      VERBATIM)
    add_custom_target(${target}-man ALL DEPENDS ${page})
    install(FILES ${page} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 COMPONENT ${component})
  endif()
endfunction()

cpc_install_server(hekate hekate hekate
  "a BitTorrent seeder for many peers, on cooperative threads")
cpc_install_server(httpd httpd cpc-httpd "a static web server on cooperative threads")
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${PROJECT_SOURCE_DIR}/docs/design.md
  DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/libcpc-dev COMPONENT dev)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME cpc)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "cpc developers <cpc@localhost>")
# No CPACK_PACKAGE_DESCRIPTION_SUMMARY: CPack would put it before every package's description,
# whose own first line is the package's synopsis.
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL dev hekate httpd)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
# Depends of the two servers from the libraries their binaries link (dpkg-shlibdeps).
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)

set(CPACK_DEBIAN_DEV_PACKAGE_NAME libcpc-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_COMPONENT_DEV_DESCRIPTION
  "cpc: cheap cooperative threads on C++20 coroutines (development files)
Headers, the static library, a CMake package (find_package(cpc), target cpc::cpc) and a
pkg-config file (cpc.pc).")
# What libcpc.a links: a program built with it needs these libraries' development files.
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS "liburing-dev, pkg-config")
if(HWLOC_FOUND)
  string(APPEND CPACK_DEBIAN_DEV_PACKAGE_DEPENDS ", libhwloc-dev")
endif()

set(CPACK_DEBIAN_HEKATE_PACKAGE_NAME hekate)
set(CPACK_DEBIAN_HEKATE_PACKAGE_SECTION net)
set(CPACK_COMPONENT_HEKATE_DESCRIPTION
  "BitTorrent seeder for many peers, on cooperative threads
Serves the files of many torrents to many peers at once, each peer served by cheap
cooperative threads of the cpc runtime.")

set(CPACK_DEBIAN_HTTPD_PACKAGE_NAME cpc-httpd)
set(CPACK_DEBIAN_HTTPD_PACKAGE_SECTION httpd)
set(CPACK_COMPONENT_HTTPD_DESCRIPTION
  "static web server on cooperative threads
HTTP/1.1 with keep-alive, pipelining, a page cache, ranges and conditional requests; a
cooperative thread of the cpc runtime per connection.")

include(CPack)
