// A simulated host for tests: an example host spec (examples/hosts/*.yaml) or a HostSpec built
// by BuildHost into a ScopedTempDir, with a SimKernelFs opened over it. For the simkernel tests
// and for any test that wants a kernel-shaped host root (discovery, apply).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "providers/simkernel/host_builder.h"
#include "providers/simkernel/sim_kernel.h"
#include "tests/support/temp_dir.h"

namespace ptrec::testing {

/// Absolute path of examples/hosts/\a name in the source tree ("dual-82576.yaml").
std::string ExampleHostPath(const std::string& name);

/// A built host root plus its simulated kernel. Throws std::runtime_error when the spec does not
/// load or build, so a broken example fails the test that uses it with the builder's message.
class SimHost {
 public:
  /// Builds examples/hosts/\a example_name.
  explicit SimHost(const std::string& example_name);
  /// Builds \a spec.
  explicit SimHost(const sim::HostSpec& spec);

  const std::string& root() const { return root_; }
  sim::SimKernelFs& fs() { return *fs_; }

  /// Contents of \a path under the root, or "<missing>".
  std::string Read(const std::string& path) const;
  /// Target of link \a path, or "<missing>".
  std::string Link(const std::string& path) const;
  bool Exists(const std::string& path) const { return fs_->Exists(path); }
  /// WriteAttribute through the simulated kernel: 0 on success, else the errno.
  int Write(const std::string& path, std::string_view data);

 private:
  void Open();

  ScopedTempDir dir_{"simhost"};
  std::string root_;
  std::unique_ptr<sim::SimKernelFs> fs_;
};

}  // namespace ptrec::testing
