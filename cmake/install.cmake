# What cmake --install puts under the prefix (docs/install.md), included from
# the top CMakeLists.txt after the targets:
#   bin/clipmill-{ingest,train,filter,eval,shard}
#   lib/libclipmill_reader.so*, lib/pkgconfig/clipmill-reader.pc (relocatable)
#   include/clipmill/reader.h
#   share/clipmill/models/default.cmm    clipmill-filter's default --model
#   share/clipmill/{schema,keywords_default.txt,python}
#   share/man/man1/clipmill-*.1.gz       one page per tool and subcommand
#   share/bash-completion/completions/clipmill-*
#   share/modulefiles/clipmill/VERSION   an environment-modules file
#   share/doc/clipmill/                  README.md and docs/
include(GNUInstallDirs)

# The tools find share/clipmill relative to their own directory (lib/base/
# datadir.h), so the install can move; the build tree has the same layout
# (build/bin, build/share/clipmill).
file(RELATIVE_PATH CLIPMILL_DATA_FROM_BIN ${CMAKE_INSTALL_FULL_BINDIR} ${CMAKE_INSTALL_FULL_DATADIR}/clipmill)
target_compile_definitions(clipmill_base PRIVATE CLIPMILL_DATA_FROM_BIN="${CLIPMILL_DATA_FROM_BIN}")
set(CLIPMILL_BUILD_DATA ${CMAKE_RUNTIME_OUTPUT_DIRECTORY}/${CLIPMILL_DATA_FROM_BIN})
configure_file(${CMAKE_SOURCE_DIR}/models/default.cmm ${CLIPMILL_BUILD_DATA}/models/default.cmm COPYONLY)

install(TARGETS clipmill-ingest clipmill-train clipmill-filter clipmill-eval clipmill-shard
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# ---- the reader: library, header, pkg-config file. The .pc file names its
# prefix relative to itself (${pcfiledir}), so a moved or unpacked prefix
# still compiles; an absolute CMAKE_INSTALL_LIBDIR keeps absolute paths.
install(TARGETS clipmill_reader
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  PUBLIC_HEADER DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/clipmill)
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}" OR IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
  set(PC_LIBDIR "${CMAKE_INSTALL_FULL_LIBDIR}")
  set(PC_INCLUDEDIR "${CMAKE_INSTALL_FULL_INCLUDEDIR}")
else()
  set(PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
  set(PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
  file(RELATIVE_PATH rel ${CMAKE_INSTALL_FULL_LIBDIR}/pkgconfig ${CMAKE_INSTALL_PREFIX})
  string(REGEX REPLACE "/$" "" rel "${rel}")
  set(PC_PREFIX "\${pcfiledir}/${rel}")
endif()
configure_file(${CMAKE_SOURCE_DIR}/reader/clipmill-reader.pc.in ${CMAKE_BINARY_DIR}/clipmill-reader.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/clipmill-reader.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# ---- data: the default model, and what users read or copy (the catalog
# schema the tools embed, the default keyword lists for --keywords, the
# Python package's sources for pip install PREFIX/share/clipmill/python).
install(FILES ${CMAKE_SOURCE_DIR}/models/default.cmm DESTINATION ${CMAKE_INSTALL_DATADIR}/clipmill/models)
install(FILES ${SCHEMA_SQL} DESTINATION ${CMAKE_INSTALL_DATADIR}/clipmill/schema)
install(FILES ${KEYWORDS_TXT} DESTINATION ${CMAKE_INSTALL_DATADIR}/clipmill)
# The Python package's version is clipmill's.
file(STRINGS ${CMAKE_SOURCE_DIR}/python/pyproject.toml py_version REGEX "^version = ")
if(NOT py_version STREQUAL "version = \"${PROJECT_VERSION}\"")
  message(FATAL_ERROR "python/pyproject.toml says ${py_version}, CMakeLists.txt ${PROJECT_VERSION}: make them agree")
endif()
install(DIRECTORY ${CMAKE_SOURCE_DIR}/python/ DESTINATION ${CMAKE_INSTALL_DATADIR}/clipmill/python
  PATTERN __pycache__ EXCLUDE PATTERN *.egg-info EXCLUDE PATTERN build EXCLUDE)

# ---- man pages and bash completion, made from the built tools' --help and
# option tables at every build that relinks a tool (cmake/cli_docs.sh).
find_program(HELP2MAN help2man)
if(NOT HELP2MAN)
  message(WARNING "help2man not found: no man pages (scripts/setup-debian.sh installs it)")
endif()
set(CLI_DOCS ${CMAKE_BINARY_DIR}/share)
add_custom_command(
  OUTPUT ${CMAKE_BINARY_DIR}/cli_docs.stamp
  COMMAND bash ${CMAKE_SOURCE_DIR}/cmake/cli_docs.sh ${CMAKE_RUNTIME_OUTPUT_DIRECTORY} ${CLI_DOCS}
          ${PROJECT_VERSION} "${HELP2MAN}"
  COMMAND ${CMAKE_COMMAND} -E touch ${CMAKE_BINARY_DIR}/cli_docs.stamp
  DEPENDS clipmill-ingest clipmill-train clipmill-filter clipmill-eval clipmill-shard
          ${CMAKE_SOURCE_DIR}/cmake/cli_docs.sh
  COMMENT "Man pages and bash completion from the tools' --help"
  VERBATIM)
add_custom_target(cli_docs ALL DEPENDS ${CMAKE_BINARY_DIR}/cli_docs.stamp)
install(DIRECTORY ${CLI_DOCS}/man/ DESTINATION ${CMAKE_INSTALL_MANDIR})
install(DIRECTORY ${CLI_DOCS}/bash-completion/ DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion)

# ---- an environment-modules file for prefix installs on clusters
# (module use PREFIX/share/modulefiles; module load clipmill); it finds the
# prefix from its own path.
file(RELATIVE_PATH MODULE_PREFIX ${CMAKE_INSTALL_FULL_DATADIR}/modulefiles/clipmill ${CMAKE_INSTALL_PREFIX})
configure_file(${CMAKE_SOURCE_DIR}/cmake/clipmill.modulefile.in ${CMAKE_BINARY_DIR}/clipmill.modulefile @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/clipmill.modulefile DESTINATION ${CMAKE_INSTALL_DATADIR}/modulefiles/clipmill
  RENAME ${PROJECT_VERSION})

install(FILES ${CMAKE_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY ${CMAKE_SOURCE_DIR}/docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR})
