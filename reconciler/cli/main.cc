// ptrec: declarative PCI passthrough for KVM hosts. This file only parses the command line
// (CLI11) and maps each subcommand to reconciler/cli/commands.h; the exit status comes from there.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <string>
#include <vector>

#include "reconciler/cli/commands.h"
#include "reconciler/serve/serve.h"

namespace {

// Terraform spells the plan file option "-out FILE" / "-out=FILE"; CLI11 reads single-dash
// options as bundles of one-letter flags, so rewrite that one spelling to "--out".
std::vector<std::string> TerraformCompatibleArgs(int argc, char** argv) {
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-out") a = "--out";
    else if (a.rfind("-out=", 0) == 0) a = "--out=" + a.substr(5);
    args.push_back(a);
  }
  std::reverse(args.begin(), args.end());  // CLI11's parse(vector) expects reverse order
  return args;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace ptrec::cli;
  CLI::App app{"ptrec: declarative PCI passthrough for KVM hosts (IOMMU, SR-IOV VFs, vfio-pci)"};
  app.set_version_flag("--version", "ptrec 0.1.0");
  app.require_subcommand(1);

  HostOptions host;
  bool no_color = false;
  auto add_host = [&](CLI::App* cmd) {
    cmd->add_option("--root", host.root, "Host root: / (the live host) or a snapshot/sandbox directory")
        ->capture_default_str();
    cmd->add_flag("--json", host.json, "Print JSON (format_version 1) instead of text");
    cmd->add_flag("--no-color", no_color, "No ANSI colors");
  };

  auto* show = app.add_subcommand("show", "List PCI devices with drivers, IOMMU groups and SR-IOV facts");
  add_host(show);

  std::string desired_file, out_file;
  auto* plan = app.add_subcommand("plan", "Show what apply would change (exit 0: none, 2: changes, 1: error)");
  add_host(plan);
  plan->add_option("-f,--file", desired_file, "Desired-state YAML (- for stdin)")->required();
  plan->add_option("--out", out_file, "Save the plan to FILE for `ptrec apply FILE` (also -out FILE)");
  plan->add_flag("--simulate", host.simulate, "Accepted for symmetry with apply: a plan only reads, so it changes nothing");

  std::string plan_file;
  bool auto_approve = false;
  auto* apply = app.add_subcommand("apply", "Change the host to match the desired state (or a saved plan)");
  add_host(apply);
  auto* apply_file = apply->add_option("-f,--file", desired_file, "Desired-state YAML (- for stdin)");
  auto* apply_plan = apply->add_option("plan", plan_file, "A plan saved by `ptrec plan -out FILE`");
  apply_file->excludes(apply_plan);
  apply->add_flag("--simulate", host.simulate, "Rehearse on a snapshot/sandbox root with the simulated kernel");
  apply->add_flag("--auto-approve", auto_approve, "Do not ask for confirmation");
  apply->add_option("-j,--jobs", host.jobs, "PFs or devices configured at once (1 = one after another)")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));

  auto* validate = app.add_subcommand("validate", "Check a desired-state file without looking at any host");
  validate->add_option("-f,--file", desired_file, "Desired-state YAML (- for stdin)")->required();
  validate->add_flag("--json", host.json, "Print JSON");

  std::string snapshot_dir;
  auto* snapshot = app.add_subcommand("snapshot", "Copy what ptrec reads from a host into a directory, to plan offline");
  add_host(snapshot);
  snapshot->add_option("--out", snapshot_dir, "New directory for the snapshot")->required();

  std::string spec_file, sandbox_dir;
  auto* sandbox = app.add_subcommand("sandbox", "Example hosts for rehearsing");
  sandbox->require_subcommand(1);
  auto* create = sandbox->add_subcommand("create", "Build a host root from a host spec (examples/hosts/*.yaml)");
  create->add_option("spec", spec_file, "Host spec YAML")->required()->check(CLI::ExistingFile);
  create->add_option("dir", sandbox_dir, "New directory to build it in")->required();

  ptrec::serve::ServeOptions serve_opts;
  std::string interval = "60s", source_timeout = "10s";
  auto* serve = app.add_subcommand("serve", "Node agent: keep planning against the desired state; metrics and JSON over HTTP");
  serve->add_option("--root", host.root, "Host root: / (the live host) or a snapshot/sandbox directory")->capture_default_str();
  auto* serve_config = serve->add_option("-c,--config", serve_opts.config_file, "Desired-state YAML (re-read when it changes)");
  auto* serve_source = serve->add_option("--source", serve_opts.source_url, "http(s) URL of the desired-state YAML (ETag-aware)");
  serve_config->excludes(serve_source);
  serve->add_option("--source-ca", serve_opts.source_ca_file, "CA bundle (PEM) for an https --source")->check(CLI::ExistingFile);
  serve->add_option("--source-timeout", source_timeout, "Connect/read timeout for --source")->capture_default_str();
  serve->add_option("--listen", serve_opts.listen, "HOST:PORT to serve on (loopback by default; port 0: any)")->capture_default_str();
  serve->add_option("--interval", interval, "Time between reconciles (e.g. 60s, 500ms, 5m)")->capture_default_str();
  serve->add_flag("--auto-apply", serve_opts.auto_apply, "Apply plans that need no reboot and disrupt nothing, unattended");
  serve->add_flag("--allow-apply", serve_opts.allow_apply, "Enable POST /v1/apply (needs --token-file)");
  serve->add_option("--token-file", serve_opts.token_file, "File holding the bearer token for POST /v1/apply (re-read on SIGHUP)");
  serve->add_option("--tls-cert", serve_opts.tls_cert, "PEM certificate: serve HTTPS")->check(CLI::ExistingFile);
  serve->add_option("--tls-key", serve_opts.tls_key, "PEM private key for --tls-cert")->check(CLI::ExistingFile);
  serve->add_option("--http-threads", serve_opts.http_threads, "HTTP worker threads (one per open connection)")
      ->capture_default_str()
      ->check(CLI::Range(2, 256));
  serve->add_flag("--simulate", host.simulate, "Applies on a snapshot/sandbox root get the simulated kernel's reactions");
  serve->add_option("-j,--jobs", host.jobs, "Apply: PFs or devices configured at once")->capture_default_str()->check(CLI::Range(1, 64));

  try {
    app.parse(TerraformCompatibleArgs(argc, argv));
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kExitOk : kExitError;
  }
  host.terminal = ::isatty(STDOUT_FILENO);
  host.color = !no_color && !host.json && host.terminal;

  if (*show) return RunShow(host);
  if (*plan) return RunPlan(host, desired_file, out_file);
  if (*apply) {
    if (desired_file.empty() && plan_file.empty()) {
      std::fprintf(stderr, "ptrec apply: give the desired state with -f FILE, or a saved plan file\n");
      return kExitError;
    }
    return RunApply(host, desired_file, plan_file, auto_approve);
  }
  if (*validate) return RunValidate(desired_file, host.json);
  if (*snapshot) return RunSnapshot(host, snapshot_dir);
  if (*create) return RunSandboxCreate(spec_file, sandbox_dir);
  if (*serve) {
    auto every = ptrec::serve::ParseDuration(interval);
    auto timeout = ptrec::serve::ParseDuration(source_timeout);
    if (!every || !timeout) {
      std::fprintf(stderr, "ptrec serve: %s\n", (!every ? every.error() : timeout.error()).message.c_str());
      return kExitError;
    }
    serve_opts.interval = *every;
    serve_opts.source_timeout = *timeout;
    serve_opts.host = host;
    return ptrec::serve::RunServe(serve_opts);
  }
  return kExitError;
}
