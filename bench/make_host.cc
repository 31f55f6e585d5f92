// ptrec_bench_host: writes a synthetic SR-IOV host root and a desired state for it.
//   ptrec_bench_host --pfs 16 --vfs 120 --out DIR   (also writes DIR.yaml)
#include <CLI/CLI.hpp>
#include <fstream>
#include <iostream>

#include "providers/simkernel/synthetic_host.h"

int main(int argc, char** argv) {
  ptrec::sim::SyntheticShape shape;
  std::string out;
  int vf_create_ms = 0, bind_ms = 0;
  CLI::App app{"Writes a synthetic SR-IOV host root (and OUT.yaml, a desired state for it)"};
  app.add_option("--pfs", shape.pfs, "PFs")->check(CLI::Range(1, 200));
  app.add_option("--vfs", shape.vfs_per_pf, "VFs per PF, created at boot")->check(CLI::Range(0, 128));
  app.add_option("--vf-create-ms", vf_create_ms, "simulated kernel: delay per VF created");
  app.add_option("--bind-ms", bind_ms, "simulated kernel: delay per driver probe");
  app.add_option("--out", out, "new directory")->required();
  CLI11_PARSE(app, argc, argv);
  auto spec = ptrec::sim::SyntheticHost(shape);
  spec.sim.vf_create_latency_ms = vf_create_ms;
  spec.sim.bind_latency_ms = bind_ms;
  if (auto built = ptrec::sim::BuildHost(spec, out); !built) {
    std::cerr << "ptrec_bench_host: " << built.error().message << "\n";
    return 1;
  }
  std::ofstream(out + ".yaml") << ptrec::sim::SyntheticDesiredState(shape);
  return 0;
}
