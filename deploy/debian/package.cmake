# The Debian package: `cpack -G DEB` in the build directory makes
# matcache_<version>_<arch>.deb there, with matcached, the matcache command,
# the Python package, the C++ client, the systemd units, the sysusers and
# tmpfiles files and the configuration (deploy/systemd/).

set(MATCACHE_SYSTEMD_DIR ${PROJECT_SOURCE_DIR}/deploy/systemd)

# The units and the configuration go to /lib/systemd/system and
# /etc/matcache in the package (CPack stages it with $DESTDIR set), and
# under the prefix otherwise, so that `cmake --install --prefix DIR` writes
# nothing outside DIR.
install(CODE [[
  if(DEFINED ENV{DESTDIR})
    set(MATCACHE_SYSTEM_ROOT "")
  else()
    string(REGEX REPLACE "^/" "" MATCACHE_SYSTEM_ROOT "${CMAKE_INSTALL_PREFIX}/")
  endif()
]])
install(FILES ${MATCACHE_SYSTEMD_DIR}/matcached.service
              ${MATCACHE_SYSTEMD_DIR}/var-lib-matcache-shm.mount
        DESTINATION "/\${MATCACHE_SYSTEM_ROOT}lib/systemd/system")
install(FILES ${MATCACHE_SYSTEMD_DIR}/matcached.flags
        DESTINATION "/\${MATCACHE_SYSTEM_ROOT}etc/matcache")
install(FILES ${MATCACHE_SYSTEMD_DIR}/matcache.sysusers
        DESTINATION lib/sysusers.d RENAME matcache.conf)
install(FILES ${MATCACHE_SYSTEMD_DIR}/matcache.tmpfiles
        DESTINATION lib/tmpfiles.d RENAME matcache.conf)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME matcache)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "matcache maintainers <matcache@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "cache server for large matrices shared through memory")
set(CPACK_PACKAGE_DESCRIPTION
    "matcached keeps named matrices in read-only shared-memory segments that\n\
local clients map without copying; remote clients read slices over gRPC\n\
and HTTP. With the Python and C++ clients and systemd units.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
# With CPACK_SET_DESTDIR, the prefix the files are installed under.
set(CPACK_INSTALL_PREFIX /usr)
set(CPACK_SET_DESTDIR ON)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION misc)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# Besides the shared libraries: what the Python client imports,
# systemd-sysusers and systemd-tmpfiles for the maintainer scripts, and
# /bin/kill for the unit's ExecReload=.
set(CPACK_DEBIAN_PACKAGE_DEPENDS
    "python3, python3-grpcio, python3-numpy, python3-protobuf, systemd, procps")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${PROJECT_SOURCE_DIR}/deploy/debian/conffiles
    ${PROJECT_SOURCE_DIR}/deploy/debian/postinst
    ${PROJECT_SOURCE_DIR}/deploy/debian/prerm
    ${PROJECT_SOURCE_DIR}/deploy/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
