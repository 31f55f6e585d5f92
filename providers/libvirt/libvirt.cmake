# providers/libvirt links the libvirt C API (Debian libvirt-dev, pkg-config "libvirt") and pugixml
# (libpugixml-dev) into ptrec_providers. Included from the top-level CMakeLists.txt.
pkg_check_modules(LIBVIRT REQUIRED IMPORTED_TARGET libvirt)
find_package(pugixml REQUIRED)
target_link_libraries(ptrec_providers PUBLIC PkgConfig::LIBVIRT pugixml::pugixml)
