# The Debian package: `cmake --build build --target package` (or `cpack` in build/) writes
# yoke_<version>_amd64.deb (docs/operations.md, "Install from the .deb"). What goes where:
#   /usr/bin/yoke                          the binary
#   /usr/libexec/yoke/yoke-exec            the exec helper (FindExecHelper looks there)
#   /lib/systemd/system/yoke@.service      the units (configs/)
#   /lib/systemd/system/yoke@.socket
#   /etc/yoke/hello.txtpb.example          an example config (a conffile; copy it to NAME.txtpb)
#   /usr/share/yoke/prometheus/yoke-alerts.yml, /usr/share/yoke/grafana/yoke.json
#   /usr/share/doc/yoke/                   README, docs/*.md, `yoke --help` text, example configs
# postinst creates the `yoke` system user and group the unit runs as. Depends: from the
# binary's shared libraries (dpkg-shlibdeps), plus adduser for postinst.
include(GNUInstallDirs)

install(TARGETS yoke RUNTIME DESTINATION bin)
install(TARGETS yoke-exec RUNTIME DESTINATION libexec/yoke)
install(FILES configs/yoke@.service configs/yoke@.socket DESTINATION /lib/systemd/system)
install(FILES configs/hello.txtpb DESTINATION /etc/yoke RENAME hello.txtpb.example)
install(FILES configs/prometheus/yoke-alerts.yml DESTINATION share/yoke/prometheus)
install(FILES configs/grafana/yoke.json DESTINATION share/yoke/grafana)
file(GLOB yoke_docs docs/*.md)
install(FILES README.md ${yoke_docs} DESTINATION share/doc/yoke)
file(GLOB yoke_example_configs configs/*.txtpb)
install(FILES ${yoke_example_configs} DESTINATION share/doc/yoke/examples)
# The --help text of every command, made from the binary at build time (there is no man page:
# `yoke COMMAND --help` is the reference, and this is its copy for reading without running).
add_custom_command(
  OUTPUT ${PROJECT_BINARY_DIR}/yoke-help.txt
  COMMAND ${CMAKE_COMMAND} -DYOKE=$<TARGET_FILE:yoke> -DOUT=${PROJECT_BINARY_DIR}/yoke-help.txt
          -P ${PROJECT_SOURCE_DIR}/packaging/help_text.cmake
  DEPENDS yoke ${PROJECT_SOURCE_DIR}/packaging/help_text.cmake
  COMMENT "yoke --help text for the package")
add_custom_target(yoke_help_text ALL DEPENDS ${PROJECT_BINARY_DIR}/yoke-help.txt)
install(FILES ${PROJECT_BINARY_DIR}/yoke-help.txt DESTINATION share/doc/yoke)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME yoke)
set(CPACK_PACKAGE_VENDOR "yoke")
set(CPACK_PACKAGE_CONTACT "yoke maintainers <yoke@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "canary supervisor and traffic splitter for one service on one host")
set(CPACK_PACKAGE_DESCRIPTION
    "yoke runs the version users trust and a candidate side by side, mirrors traffic to the\n candidate, compares answers and logs, and promotes or rejects it on that evidence.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # yoke_<version>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://github.com/yoke/yoke")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${PROJECT_SOURCE_DIR}/packaging/postinst ${PROJECT_SOURCE_DIR}/packaging/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
