import os
import re

from conan import ConanFile
from conan.errors import ConanInvalidConfiguration
from conan.tools.build import check_min_cppstd
from conan.tools.files import copy, load
from conan.tools.layout import basic_layout
from conan.tools.scm import Version

required_conan_version = ">=2.0"


class RedflagConan(ConanFile):
    name = "redflag"
    description = "Header-only C++20 anomaly detection for finance"
    license = "MIT"
    url = "https://example.org/redflag"
    homepage = "https://example.org/redflag"
    topics = ("anomaly-detection", "isolation-forest", "fraud-detection", "header-only")
    package_type = "header-library"
    settings = "os", "arch", "compiler", "build_type"
    no_copy_source = True

    # The recipe lives in the repository (tests/package/conan), so the sources
    # are the tree three levels up; a Conan Center recipe would download the
    # release archive in source() instead.
    @property
    def _repository(self):
        return os.path.join(self.recipe_folder, "..", "..", "..")

    # The compilers redflag is tested with; older ones lack C++20 features it uses.
    @property
    def _compilers_minimum_version(self):
        return {"gcc": "12", "clang": "14"}

    def set_version(self):
        # One source of truth: project(redflag VERSION x.y.z) in CMakeLists.txt.
        cmakelists = load(self, os.path.join(self._repository, "CMakeLists.txt"))
        self.version = re.search(r"project\(redflag\s+VERSION\s+([0-9.]+)", cmakelists).group(1)

    def export_sources(self):
        # A header-only package is the headers and the licence; the CMake
        # build is not used (package_info describes the target instead).
        copy(self, "LICENSE", self._repository, self.export_sources_folder)
        copy(self, "*", os.path.join(self._repository, "include"),
             os.path.join(self.export_sources_folder, "include"))

    def layout(self):
        basic_layout(self, src_folder=".")

    def requirements(self):
        # redflag's public headers include both.
        self.requires("eigen/3.4.0", transitive_headers=True)
        self.requires("cereal/1.3.2", transitive_headers=True)

    def package_id(self):
        self.info.clear()

    def validate(self):
        check_min_cppstd(self, 20)
        compiler = str(self.settings.compiler)
        minimum = self._compilers_minimum_version.get(compiler)
        if minimum and Version(self.settings.compiler.version) < minimum:
            raise ConanInvalidConfiguration(
                f"{self.ref} requires C++20, tested with {compiler} >= {minimum}; "
                f"{compiler} {self.settings.compiler.version} is not supported")

    def build(self):
        pass

    def package(self):
        copy(self, "LICENSE", self.source_folder, os.path.join(self.package_folder, "licenses"))
        copy(self, "*", os.path.join(self.source_folder, "include"),
             os.path.join(self.package_folder, "include"))

    def package_info(self):
        self.cpp_info.set_property("cmake_file_name", "redflag")
        self.cpp_info.set_property("cmake_target_name", "redflag::redflag")
        self.cpp_info.set_property("pkg_config_name", "redflag")
        self.cpp_info.bindirs = []
        self.cpp_info.libdirs = []
        if self.settings.os in ["Linux", "FreeBSD"]:
            self.cpp_info.system_libs.append("pthread")
