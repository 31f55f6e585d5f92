#include "tests/support/sim_host.h"

#include <stdexcept>

namespace ptrec::testing {

std::string ExampleHostPath(const std::string& name) {
  return std::string(PTREC_SOURCE_DIR) + "/examples/hosts/" + name;
}

SimHost::SimHost(const std::string& example_name) : root_(dir_.Sub("root")) {
  auto spec = sim::LoadHostSpec(ExampleHostPath(example_name));
  if (!spec) throw std::runtime_error(spec.error().message);
  if (auto built = sim::BuildHost(*spec, root_); !built)
    throw std::runtime_error(built.error().message);
  Open();
}

SimHost::SimHost(const sim::HostSpec& spec) : root_(dir_.Sub("root")) {
  if (auto built = sim::BuildHost(spec, root_); !built)
    throw std::runtime_error(built.error().message);
  Open();
}

void SimHost::Open() {
  auto opened = sim::SimKernelFs::Open(root_);
  if (!opened) throw std::runtime_error(opened.error().message);
  fs_ = std::move(*opened);
}

std::string SimHost::Read(const std::string& path) const {
  auto text = fs_->ReadFile(path);
  return text ? *text : std::string("<missing>");
}

std::string SimHost::Link(const std::string& path) const {
  auto target = fs_->ReadLink(path);
  return target ? *target : std::string("<missing>");
}

int SimHost::Write(const std::string& path, std::string_view data) {
  auto written = fs_->WriteAttribute(path, data);
  return written ? 0 : written.error().sys_errno;
}

}  // namespace ptrec::testing
