# The Debian package (cpack -G DEB in the build folder: clipmill_VERSION_ARCH.deb),
# everything cmake/install.cmake installs, under /usr. Its Depends come from
# the shared libraries the tools and the reader link (dpkg-shlibdeps), so
# `apt install ./clipmill_*.deb` pulls FFmpeg, SQLite, LMDB, libcurl,
# OpenBLAS, ISA-L and libmicrohttpd on a clean Debian 12.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME clipmill)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "clipmill")
set(CPACK_PACKAGE_CONTACT "clipmill maintainers <clipmill@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "video clip corpora for world models: ingest, filter, shard, read")
# The long description (dpkg's synopsis line is the summary above).
set(CPACK_PACKAGE_DESCRIPTION "clipmill turns raw gameplay and robot video into training corpora for
Genie-style world models (16 s clips at 10 FPS, 160x90 RGB) with statistics,
a quality classifier and immutable LMDB datasets. This package holds the five
tools (clipmill-ingest, -train, -filter, -eval, -shard), the dataset reader
library libclipmill_reader with its header and pkg-config file, man pages,
bash completion, the default quality model and the documentation. The Python
package's sources are in /usr/share/clipmill/python (pip install).")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION science)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# A shlibs file and the ldconfig trigger for libclipmill_reader.so.0.
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "python3-numpy")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "python3-torch, ffmpeg, sqlite3")
set(CPACK_STRIP_FILES ON)
# Only the files (not /usr, /usr/bin...) are the package's own.
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
