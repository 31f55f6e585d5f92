// Integration tests of the node agent (`ptrec serve`): the agent and its HTTP server run in this
// process on a loopback ephemeral port, against sandbox host roots with the simulated kernel;
// requests go through a real HTTP client.
#include <catch2/catch.hpp>
#include <fcntl.h>
#include <httplib.h>
#include <spawn.h>
#include <sys/wait.h>
#include <csignal>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <future>
#include <nlohmann/json.hpp>
#include <thread>

#include "providers/host/host_fs.h"
#include "providers/state/journal.h"
#include "reconciler/serve/http.h"
#include "reconciler/serve/serve.h"
#include "tests/support/run_ptrec.h"
#include "tests/support/sim_host.h"

extern char** environ;

namespace ptrec::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kToken = "s3cret-token-for-tests";

void WriteText(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The value of an unlabelled (or exactly labelled) sample in exposition text; NaN when absent.
double Sample(const std::string& metrics, const std::string& series) {
  size_t at = 0;
  while ((at = metrics.find(series + " ", at)) != std::string::npos) {
    if (at == 0 || metrics[at - 1] == '\n') return std::stod(metrics.substr(at + series.size() + 1));
    at += series.size();
  }
  return std::nan("");
}

// A sandbox host, a desired-state file, an agent and its server on 127.0.0.1:<ephemeral>.
struct Served {
  SimHost host;
  ScopedTempDir tmp{"serve"};
  std::string desired_path = tmp.Sub("host.yaml");
  std::string token_path = tmp.Sub("token");
  serve::ServeOptions opts;
  std::unique_ptr<serve::Agent> agent;
  std::unique_ptr<serve::HttpServer> http;
  std::thread server_thread;
  int port = 0;

  explicit Served(const std::string& example, const sim::HostSpec* spec = nullptr)
      : host(spec ? SimHost(*spec) : SimHost(example)) {
    opts.host.root = host.root();
    opts.host.simulate = true;
    opts.listen = "127.0.0.1:0";
    opts.interval = 60s;
    opts.config_file = desired_path;
    opts.token_file = token_path;
    WriteText(token_path, std::string(kToken) + "\n");
    ::chmod(token_path.c_str(), 0600);
  }
  // Starts the server (and with \a loop the reconcile loop; else reconciles once, here).
  void Start(bool loop = false) {
    agent = std::make_unique<serve::Agent>(opts);
    auto made = serve::HttpServer::Make(*agent);
    if (!made) FAIL(made.error().message);
    http = std::move(*made);
    auto bound = http->Bind();
    if (!bound) FAIL(bound.error().message);
    port = *bound;
    server_thread = std::thread([this] { http->Run(); });
    if (loop) agent->Start();
    else agent->ReconcileNow("test");
  }
  ~Served() {
    if (http) http->Stop();
    if (server_thread.joinable()) server_thread.join();
    if (agent) agent->Stop();
  }
  httplib::Client Client() const {
    httplib::Client c("127.0.0.1", port);
    c.set_read_timeout(20, 0);
    return c;
  }
  httplib::Result Get(const std::string& path) const { return Client().Get(path.c_str()); }
  httplib::Result PostApply(const std::string& auth, const std::string& query = "") const {
    httplib::Headers h;
    if (!auth.empty()) h.emplace("Authorization", auth);
    return Client().Post(("/v1/apply" + query).c_str(), h, "", "application/json");
  }
};

std::string Example(const std::string& name) { return ReadText(SourcePath("examples/" + name)); }

// Starts \a args (args[0] looked up in PATH) with stdin from \a in, stdout to \a out and stderr
// to \a err (files; "/dev/null" to drop); returns the pid, or -1 when it cannot start.
pid_t Spawn(std::vector<std::string> args, const std::string& in, const std::string& out, const std::string& err) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, in.c_str(), O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid;
  int rc = posix_spawnp(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  return rc == 0 ? pid : -1;
}

// Waits for \a pid; its exit status, or -1 when it did not exit normally.
int ExitStatus(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Runs `promtool check metrics` with \a text on its standard input; returns {exit code, output}.
std::pair<int, std::string> Promtool(const std::string& text, const ScopedTempDir& tmp) {
  std::string in = tmp.Sub("metrics.txt"), out = tmp.Sub("promtool.out");
  WriteText(in, text);
  pid_t pid = Spawn({"promtool", "check", "metrics"}, in, out, out + ".err");
  if (pid < 0) return {-1, "promtool not found (Debian package prometheus; scripts/install-deps installs it)"};
  int code = ExitStatus(pid);
  return {code, ReadText(out) + ReadText(out + ".err")};
}

// Sends \a request as is over a new connection to 127.0.0.1:\a port; returns the status line.
std::string RawStatusLine(int port, const std::string& request) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string reply;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size())) {
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof buf)) > 0) reply.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return reply.substr(0, reply.find("\r\n"));
}

}  // namespace

TEST_CASE("serve: every endpoint answers from the last reconcile", "[serve]") {
  // Given the dual-82576 sandbox and 82576-vfs.yaml (7 + 4 VFs wanted, none present).
  Served s("dual-82576.yaml");
  WriteText(s.desired_path, Example("82576-vfs.yaml"));
  s.Start();

  auto health = s.Get("/healthz");
  REQUIRE(health);
  CHECK(health->status == 200);
  CHECK(json::parse(health->body)["status"] == "ok");
  auto ready = s.Get("/readyz");
  REQUIRE(ready);
  CHECK(ready->status == 200);

  // /v1/state is `ptrec show --json` of the same root.
  auto state = s.Get("/v1/state");
  REQUIRE(state);
  REQUIRE(state->status == 200);
  CHECK(state->get_header_value("Content-Type") == "application/json");
  Run show = RunPtrec({"show", "--json", "--root", s.host.root()});
  REQUIRE(show.exit_code == 0);
  json served_state = json::parse(state->body), cli_state = json::parse(show.out);
  CHECK(served_state["kind"] == "host");
  CHECK(served_state["devices"] == cli_state["devices"]);
  CHECK(served_state["iommu_groups"] == cli_state["iommu_groups"]);

  // /v1/plan is `ptrec plan --json` for the same desired state.
  auto plan = s.Get("/v1/plan");
  REQUIRE(plan);
  REQUIRE(plan->status == 200);
  Run cli_plan = RunPtrec({"plan", "--json", "-f", s.desired_path, "--root", s.host.root()});
  REQUIRE(cli_plan.exit_code == 2);
  json served_plan = json::parse(plan->body), expected_plan = json::parse(cli_plan.out);
  CHECK(served_plan["kind"] == "plan");
  CHECK(served_plan["fingerprint"] == expected_plan["fingerprint"]);
  CHECK(served_plan["actions"] == expected_plan["actions"]);
  CHECK(served_plan["changes"] == true);
  CHECK(plan->get_header_value("ETag") == "\"" + expected_plan["fingerprint"].get<std::string>() + "\"");

  // /metrics: drift, pending actions by kind, devices by driver, VFs per PF.
  auto metrics = s.Get("/metrics");
  REQUIRE(metrics);
  REQUIRE(metrics->status == 200);
  CHECK(metrics->get_header_value("Content-Type").rfind("text/plain; version=0.0.4", 0) == 0);
  const std::string& m = metrics->body;
  CHECK(Sample(m, "ptrec_ready") == 1);
  CHECK(Sample(m, "ptrec_drift") == 1);
  CHECK(Sample(m, "ptrec_plan_refused") == 0);
  CHECK(Sample(m, "ptrec_pending_actions{kind=\"set_num_vfs\"}") == 2);
  CHECK(Sample(m, "ptrec_pending_actions{kind=\"bind\"}") == 7);
  for (ActionKind k : kActionKinds)  // every kind has a series, 0 when none is pending
    CHECK(Sample(m, std::string("ptrec_pending_actions{kind=\"") + ActionKindName(k) + "\"}") >= 0);
  CHECK(Sample(m, "ptrec_pci_devices{driver=\"igb\"}") == 2);
  CHECK(Sample(m, "ptrec_sriov_vfs{pf=\"0000:03:00.0\",driver=\"igb\"}") == 0);
  CHECK(Sample(m, "ptrec_sriov_total_vfs{pf=\"0000:03:00.1\"}") == 7);
  CHECK(Sample(m, "ptrec_reconciles_total{result=\"success\"}") == 1);
  CHECK(Sample(m, "ptrec_last_reconcile_timestamp_seconds") > 1.7e9);
  CHECK(Sample(m, "ptrec_last_reconcile_duration_seconds") > 0);

  auto status = s.Get("/v1/status");
  REQUIRE(status);
  json st = json::parse(status->body);
  CHECK(st["ready"] == true);
  CHECK(st["drift"] == true);
  CHECK(st["desired_state"]["source"] == s.desired_path);
  CHECK(st["desired_state"]["name"] == "dual-82576");

  // HEAD is GET without a body.
  auto head = s.Client().Head("/metrics");
  REQUIRE(head);
  CHECK(head->status == 200);
  CHECK(head->body.empty());

  // Unknown path 404, wrong method 405 with Allow, apply not enabled 403; JSON error bodies.
  auto missing = s.Get("/v2/nothing");
  REQUIRE(missing);
  CHECK(missing->status == 404);
  CHECK(json::parse(missing->body)["error"]["code"] == "not_found");
  auto post_metrics = s.Client().Post("/metrics", "x", "text/plain");
  REQUIRE(post_metrics);
  CHECK(post_metrics->status == 405);
  CHECK(post_metrics->get_header_value("Allow") == "GET, HEAD");
  auto delete_state = s.Client().Delete("/v1/state");
  REQUIRE(delete_state);
  CHECK(delete_state->status == 405);
  auto get_apply = s.Get("/v1/apply");
  REQUIRE(get_apply);
  CHECK(get_apply->status == 405);
  CHECK(get_apply->get_header_value("Allow") == "POST");
  auto disabled = s.PostApply(std::string("Bearer ") + kToken);
  REQUIRE(disabled);
  CHECK(disabled->status == 403);
  CHECK(s.Get("/v1/plan")->body == plan->body);  // nothing was applied

  // Bounds: a 1 MiB body gets 413, 200 header fields get 431.
  auto big = s.Client().Post("/v1/apply", std::string(1 << 20, 'x'), "application/json");
  REQUIRE(big);
  CHECK(big->status == 413);
  httplib::Headers many;
  for (int i = 0; i < 200; ++i) many.emplace("X-Filler-" + std::to_string(i), "1");
  auto crowded = s.Client().Get("/metrics", many);
  REQUIRE(crowded);
  CHECK(crowded->status == 431);
}

TEST_CASE("serve: before the first reconcile only /healthz, /metrics and /v1/status answer", "[serve]") {
  // Given a config file that does not validate, the agent has no desired state: not ready.
  Served s("dual-82576.yaml");
  WriteText(s.desired_path, "apiVersion: ptrec/v1\nkind: HostConfig\nsriov:\n  - device: \"0000:03:00.0\"\n    numVfs: many\n");
  s.Start();
  CHECK(s.Get("/healthz")->status == 200);
  CHECK(s.Get("/readyz")->status == 503);
  CHECK(s.Get("/v1/state")->status == 503);
  CHECK(s.Get("/v1/plan")->status == 503);
  auto m = s.Get("/metrics");
  REQUIRE(m->status == 200);
  CHECK(Sample(m->body, "ptrec_ready") == 0);
  CHECK(Sample(m->body, "ptrec_errors_total{kind=\"config_invalid\"}") == 1);
  CHECK(Sample(m->body, "ptrec_reconciles_total{result=\"failure\"}") == 1);
  json st = json::parse(s.Get("/v1/status")->body);
  CHECK(st["ready"] == false);
  CHECK(st["desired_state"]["rejected"].get<std::string>().find("numVfs") != std::string::npos);
}

TEST_CASE("serve: a host changed behind the agent's back shows drift within one interval", "[serve]") {
  // Given dual-82576 applied to 82576-vfs.yaml (no drift), and the loop every 300 ms.
  Served s("dual-82576.yaml");
  WriteText(s.desired_path, Example("82576-vfs.yaml"));
  Run applied = RunPtrec({"apply", "-f", s.desired_path, "--root", s.host.root(), "--simulate", "--auto-approve"});
  INFO(applied.out << applied.err);
  REQUIRE(applied.exit_code == 0);
  s.opts.interval = 300ms;
  s.Start(/*loop=*/true);
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (s.Get("/readyz")->status != 200 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(20ms);
  REQUIRE(Sample(s.Get("/metrics")->body, "ptrec_drift") == 0);
  CHECK(Sample(s.Get("/metrics")->body, "ptrec_sriov_vfs{pf=\"0000:03:00.1\",driver=\"igb\"}") == 4);

  // When the simulated kernel drops port 1's VFs (someone wrote sriov_numvfs 0).
  REQUIRE(s.host.Write("sys/bus/pci/devices/0000:03:00.1/sriov_numvfs", "0") == 0);
  auto changed = std::chrono::steady_clock::now();

  // Then /metrics shows drift within one interval (plus the reconcile's own time).
  std::string m;
  while (std::chrono::steady_clock::now() < changed + 300ms + 1s) {
    m = s.Get("/metrics")->body;
    if (Sample(m, "ptrec_drift") == 1) break;
    std::this_thread::sleep_for(20ms);
  }
  CHECK(Sample(m, "ptrec_drift") == 1);
  CHECK(Sample(m, "ptrec_pending_actions{kind=\"set_num_vfs\"}") == 1);
  CHECK(Sample(m, "ptrec_sriov_vfs{pf=\"0000:03:00.1\",driver=\"igb\"}") == 0);
  json plan = json::parse(s.Get("/v1/plan")->body);
  REQUIRE(plan["actions"].size() == 1);
  CHECK(plan["actions"][0]["device"] == "0000:03:00.1");
}

TEST_CASE("serve: a changed config file is reconciled without waiting for the interval", "[serve]") {
  // Given an interval of 60 s and a desired state the host already matches (nothing wanted).
  Served s("dual-82576.yaml");
  WriteText(s.desired_path, "apiVersion: ptrec/v1\nkind: HostConfig\n");
  s.Start(/*loop=*/true);
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (s.Get("/readyz")->status != 200 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(20ms);
  REQUIRE(Sample(s.Get("/metrics")->body, "ptrec_drift") == 0);
  // When the file changes, then within ~2 s the plan follows it.
  WriteText(s.desired_path, Example("82576-vfs.yaml"));
  deadline = std::chrono::steady_clock::now() + 3s;
  while (Sample(s.Get("/metrics")->body, "ptrec_drift") != 1 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(50ms);
  CHECK(Sample(s.Get("/metrics")->body, "ptrec_drift") == 1);
  CHECK(json::parse(s.Get("/v1/plan")->body)["actions"].size() == 9);
}

TEST_CASE("serve: apply needs the bearer token; with it the plan is applied", "[serve]") {
  Served s("dual-82576.yaml");
  WriteText(s.desired_path, Example("82576-vfs.yaml"));
  s.opts.allow_apply = true;
  s.Start();
  auto before = s.host.Read("sys/bus/pci/devices/0000:03:00.0/sriov_numvfs");
  REQUIRE(before == "0\n");

  for (const std::string& auth : std::vector<std::string>{"", "Bearer wrong-token", std::string("Basic ") + kToken, std::string("Bearer ") + kToken + "x",
                           std::string("Bearer s3cret")}) {
    INFO("Authorization: " << auth);
    auto r = s.PostApply(auth);
    REQUIRE(r);
    CHECK(r->status == 401);
    CHECK(r->get_header_value("WWW-Authenticate").rfind("Bearer", 0) == 0);
  }
  CHECK(s.host.Read("sys/bus/pci/devices/0000:03:00.0/sriov_numvfs") == "0\n");

  // `curl -X POST` sends no Content-Length: still an apply request (401 here), not a 400.
  CHECK(RawStatusLine(s.port, "POST /v1/apply HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n") ==
        "HTTP/1.1 401 Unauthorized");
  CHECK(RawStatusLine(s.port, "PUT /v1/plan HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n") ==
        "HTTP/1.1 405 Method Not Allowed");

  // A fingerprint the host no longer has: 409, nothing changed.
  auto stale = s.PostApply(std::string("Bearer ") + kToken, "?fingerprint=0123456789abcdef");
  REQUIRE(stale);
  CHECK(stale->status == 409);
  CHECK(json::parse(stale->body)["error"]["code"] == "stale");

  std::string fingerprint = json::parse(s.Get("/v1/plan")->body)["fingerprint"];
  auto ok = s.PostApply(std::string("bearer ") + kToken, "?fingerprint=" + fingerprint);
  REQUIRE(ok);
  INFO(ok->body);
  CHECK(ok->status == 200);
  json result = json::parse(ok->body);
  CHECK(result["applied"] == true);
  CHECK(result["changed"] == true);
  CHECK(s.host.Read("sys/bus/pci/devices/0000:03:00.0/sriov_numvfs") == "7\n");
  CHECK(s.host.Read("sys/bus/pci/devices/0000:03:00.1/sriov_numvfs") == "4\n");
  // The agent reconciled after the apply: no drift, one API apply counted.
  auto m = s.Get("/metrics")->body;
  CHECK(Sample(m, "ptrec_drift") == 0);
  CHECK(Sample(m, "ptrec_applies_total{trigger=\"api\",result=\"success\"}") == 1);
  CHECK(Sample(m, "ptrec_sriov_vfs{pf=\"0000:03:00.0\",driver=\"igb\"}") == 7);
  CHECK(Sample(m, "ptrec_pci_devices{driver=\"vfio-pci\"}") == 7);
}

TEST_CASE("serve: a token file changed on disk is used after ReloadToken (SIGHUP)", "[serve]") {
  Served s("dual-82576.yaml");
  WriteText(s.desired_path, "apiVersion: ptrec/v1\nkind: HostConfig\n");
  s.opts.allow_apply = true;
  s.Start();
  WriteText(s.token_path, "rotated-token\n");
  CHECK(s.PostApply("Bearer rotated-token")->status == 401);  // read once at start
  REQUIRE(s.http->ReloadToken());
  CHECK(s.PostApply(std::string("Bearer ") + kToken)->status == 401);
  CHECK(s.PostApply("Bearer rotated-token")->status == 200);
  WriteText(s.token_path, "");
  CHECK(!s.http->ReloadToken());  // an empty file is refused; the last token stays
  CHECK(s.PostApply("Bearer rotated-token")->status == 200);
}

TEST_CASE("serve: one apply at a time: a held lock or a running apply gets 409", "[serve]") {
  // Given VF creation that takes 40 ms per VF in the simulated kernel, so an apply lasts.
  auto spec = sim::LoadHostSpec(ExampleHostPath("dual-82576.yaml"));
  REQUIRE(spec);
  spec->sim.vf_create_latency_ms = 40;
  Served s("", &*spec);
  WriteText(s.desired_path, Example("82576-vfs.yaml"));
  s.opts.allow_apply = true;
  s.Start();
  const std::string auth = std::string("Bearer ") + kToken;

  {  // The test holds the CLI's apply lock: 409, nothing changed.
    RealHostFs fs(s.host.root());
    auto lock = state::ApplyLock::Acquire(fs, s.host.root());
    REQUIRE(lock);
    auto busy = s.PostApply(auth);
    REQUIRE(busy);
    CHECK(busy->status == 409);
    CHECK(json::parse(busy->body)["error"]["code"] == "busy");
    CHECK(s.host.Read("sys/bus/pci/devices/0000:03:00.0/sriov_numvfs") == "0\n");
  }

  // Two applies at once: the first holds the lock while VFs are created; the second gets 409.
  auto first = std::async(std::launch::async, [&] { return s.PostApply(auth)->status; });
  std::this_thread::sleep_for(100ms);
  auto second = std::async(std::launch::async, [&] { return s.PostApply(auth)->status; });
  int a = first.get(), b = second.get();
  CHECK(a == 200);
  CHECK(b == 409);
  CHECK(s.host.Read("sys/bus/pci/devices/0000:03:00.0/sriov_numvfs") == "7\n");
}

TEST_CASE("serve: a bad source document is rejected and the last good one stays in force", "[serve]") {
  // Given a source server with an ETag'd document.
  std::mutex mu;
  std::string doc = Example("82576-vfs.yaml");
  int version = 1, requests = 0, not_modified = 0;
  bool down = false;
  httplib::Server source;
  source.Get("/hosts/dual-82576.yaml", [&](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard lock(mu);
    ++requests;
    if (down) {
      res.status = 503;
      return;
    }
    std::string etag = "\"v" + std::to_string(version) + "\"";
    res.set_header("ETag", etag);
    if (req.get_header_value("If-None-Match") == etag) {
      ++not_modified;
      res.status = 304;
      return;
    }
    res.set_content(doc, "application/yaml");
  });
  source.Get("/latest", [](const httplib::Request&, httplib::Response& res) { res.set_redirect("/hosts/dual-82576.yaml"); });
  int source_port = source.bind_to_any_port("127.0.0.1");
  std::thread source_thread([&] { source.listen_after_bind(); });

  Served s("dual-82576.yaml");
  s.opts.config_file.clear();
  s.opts.source_url = "http://127.0.0.1:" + std::to_string(source_port) + "/latest";  // redirects
  s.opts.source_timeout = 2s;
  s.Start();
  json plan = json::parse(s.Get("/v1/plan")->body);
  CHECK(plan["source"] == s.opts.source_url);
  CHECK(plan["actions"].size() == 9);

  // Unchanged: the agent sends If-None-Match (through the redirect) and gets 304.
  s.agent->ReconcileNow("test");
  {
    std::lock_guard lock(mu);
    CHECK(not_modified == 1);
  }

  // When the source serves a document that does not validate.
  {
    std::lock_guard lock(mu);
    doc = "apiVersion: ptrec/v1\nkind: HostConfig\nsriov:\n  - device: \"0000:03:00.0\"\n    numVfs: 9000000\n";
    version = 2;
  }
  s.agent->ReconcileNow("test");
  // Then it is reported, and the plan is still the last good document's.
  json st = json::parse(s.Get("/v1/status")->body);
  CHECK(st["desired_state"]["rejected"].get<std::string>().find("numVfs") != std::string::npos);
  CHECK(st["source"]["etag"] == "\"v1\"");
  auto m = s.Get("/metrics")->body;
  CHECK(Sample(m, "ptrec_errors_total{kind=\"source_invalid\"}") == 1);
  CHECK(Sample(m, "ptrec_ready") == 1);
  CHECK(json::parse(s.Get("/v1/plan")->body)["actions"] == plan["actions"]);

  // When the source is down, the last good document still holds.
  {
    std::lock_guard lock(mu);
    down = true;
  }
  s.agent->ReconcileNow("test");
  m = s.Get("/metrics")->body;
  CHECK(Sample(m, "ptrec_errors_total{kind=\"source_unreachable\"}") == 1);
  CHECK(Sample(m, "ptrec_last_reconcile_success") == 1);
  CHECK(json::parse(s.Get("/v1/plan")->body)["actions"] == plan["actions"]);
  CHECK(json::parse(s.Get("/v1/status")->body)["source"]["error"].get<std::string>().find("503") != std::string::npos);

  // And a good document replaces it.
  {
    std::lock_guard lock(mu);
    down = false;
    doc = "apiVersion: ptrec/v1\nkind: HostConfig\n";
    version = 3;
  }
  s.agent->ReconcileNow("test");
  CHECK(json::parse(s.Get("/v1/plan")->body)["actions"].empty());
  CHECK(json::parse(s.Get("/v1/status")->body)["desired_state"]["rejected"].is_null());
  // The last good document is kept under the root for a restart while the source is down.
  CHECK(ReadText(s.host.root() + "/var/lib/ptrec/serve/source.yaml") == "apiVersion: ptrec/v1\nkind: HostConfig\n");

  source.stop();
  source_thread.join();
}

TEST_CASE("serve: started while the source is down, the agent plans with the kept document", "[serve]") {
  // Given a document kept from an earlier run and a source nobody listens on.
  Served s("dual-82576.yaml");
  RealHostFs fs(s.host.root());
  REQUIRE(fs.WriteFileAtomic("var/lib/ptrec/serve/source.yaml", Example("82576-vfs.yaml")));
  REQUIRE(fs.WriteFileAtomic("var/lib/ptrec/serve/source.etag", "\"v7\"\n"));
  httplib::Server nobody;
  int dead_port = nobody.bind_to_any_port("127.0.0.1");  // bound, never listening: refused
  nobody.stop();
  s.opts.config_file.clear();
  s.opts.source_url = "http://127.0.0.1:" + std::to_string(dead_port) + "/h.yaml?token=secret";
  s.opts.source_timeout = 1s;
  s.Start();
  CHECK(s.Get("/readyz")->status == 200);
  CHECK(json::parse(s.Get("/v1/plan")->body)["actions"].size() == 9);
  json st = json::parse(s.Get("/v1/status")->body);
  CHECK(st["source"]["etag"] == "\"v7\"");
  CHECK(st["source"]["url"].get<std::string>().find("secret") == std::string::npos);
  CHECK(!st["source"]["error"].is_null());
  CHECK(Sample(s.Get("/metrics")->body, "ptrec_errors_total{kind=\"source_unreachable\"}") == 1);
}

TEST_CASE("serve: promtool check metrics accepts /metrics", "[serve]") {
  Served s("dual-82576.yaml");
  WriteText(s.desired_path, Example("82576-vfs.yaml"));
  s.Start();
  auto m = s.Get("/metrics");
  REQUIRE(m);
  REQUIRE(m->status == 200);
  auto [code, output] = Promtool(m->body, s.tmp);
  INFO(output << "\n--- metrics:\n" << m->body);
  CHECK(code == 0);
  // A plain check that promtool is not a pushover: it rejects a counter without _total.
  auto [bad_code, bad_output] = Promtool("# HELP x_count a\n# TYPE x_count counter\nx_count 1\n", s.tmp);
  INFO(bad_output);
  CHECK(bad_code != 0);
}

TEST_CASE("serve: --auto-apply applies a safe plan and waits on one that disrupts the host", "[serve]") {
  SECTION("VFs to create and bind: applied by the reconcile, then no drift") {
    Served s("dual-82576.yaml");
    WriteText(s.desired_path, Example("82576-vfs.yaml"));
    s.opts.auto_apply = true;
    s.Start();
    CHECK(s.host.Read("sys/bus/pci/devices/0000:03:00.0/sriov_numvfs") == "7\n");
    auto m = s.Get("/metrics")->body;
    CHECK(Sample(m, "ptrec_drift") == 0);
    CHECK(Sample(m, "ptrec_applies_total{trigger=\"auto\",result=\"success\"}") == 1);
    json st = json::parse(s.Get("/v1/status")->body);
    CHECK(st["auto_apply"]["last"] == "applied 9 action(s)");
    CHECK(st["last_apply"]["applied"] == true);
  }
  SECTION("hiding a NIC that is up with an address: not applied, and /v1/status says why") {
    Served s("dual-82576.yaml");
    WriteText(s.desired_path, Example("82576-hide-port.yaml"));
    s.opts.auto_apply = true;
    s.Start();
    CHECK(s.host.Link("sys/bus/pci/devices/0000:03:00.1/driver").find("igb") != std::string::npos);
    auto m = s.Get("/metrics")->body;
    CHECK(Sample(m, "ptrec_drift") == 1);
    CHECK(Sample(m, "ptrec_applies_total{trigger=\"auto\",result=\"success\"}") == 0);
    json st = json::parse(s.Get("/v1/status")->body);
    INFO(st.dump(2));
    CHECK(st["auto_apply"]["last"].get<std::string>().rfind("not applied: ", 0) == 0);
    CHECK(st["auto_apply"]["last"].get<std::string>().find("disrupts") != std::string::npos);
  }
}

TEST_CASE("serve: --tls-cert/--tls-key serve HTTPS; a bad key is refused at start", "[serve]") {
  Served s("dual-82576.yaml");
  WriteText(s.desired_path, "apiVersion: ptrec/v1\nkind: HostConfig\n");
  std::string cert = s.tmp.Sub("cert.pem"), key = s.tmp.Sub("key.pem");
  pid_t pid = Spawn({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-days", "1",
                     "-keyout", key, "-out", cert},
                    "/dev/null", "/dev/null", "/dev/null");
  REQUIRE(pid > 0);
  REQUIRE(ExitStatus(pid) == 0);

  s.opts.tls_cert = cert;
  s.opts.tls_key = cert;  // not a key
  serve::Agent bad(s.opts);
  auto refused = serve::HttpServer::Make(bad);
  REQUIRE(!refused);
  CHECK(refused.error().message.find("TLS") != std::string::npos);

  s.opts.tls_key = key;
  s.Start();
  httplib::SSLClient tls("127.0.0.1", s.port);
  tls.enable_server_certificate_verification(false);
  auto r = tls.Get("/readyz");
  REQUIRE(r);
  CHECK(r->status == 200);
  auto plain = s.Get("/readyz");  // plain HTTP to the TLS port gets no HTTP answer
  CHECK((!plain || plain->status != 200));
}

TEST_CASE("serve: the ptrec binary serves, reconciles on SIGHUP and stops on SIGTERM", "[serve]") {
  // Given `ptrec serve` on a sandbox with port 0, its log (stderr) in a file.
  SimHost host("dual-82576.yaml");
  ScopedTempDir tmp("serve-bin");
  WriteText(tmp.Sub("host.yaml"), Example("82576-vfs.yaml"));
  std::string log = tmp.Sub("serve.log");
  pid_t pid = Spawn({PTREC_BINARY, "serve", "--root", host.root(), "--config", tmp.Sub("host.yaml"), "--listen",
                     "127.0.0.1:0", "--interval", "1h"},
                    "/dev/null", "/dev/null", log);
  REQUIRE(pid > 0);

  auto wait_for = [&](const std::string& needle) {
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < deadline) {
      std::string text = ReadText(log);
      if (text.find(needle) != std::string::npos) return text;
      std::this_thread::sleep_for(20ms);
    }
    return ReadText(log);
  };
  std::string text = wait_for("trigger=\"start\"");
  INFO(text);
  size_t at = text.find(" port=");
  REQUIRE(at != std::string::npos);
  int port = std::stoi(text.substr(at + 6));
  httplib::Client client("127.0.0.1", port);
  auto ready = client.Get("/readyz");
  REQUIRE(ready);
  CHECK(ready->status == 200);
  CHECK(Sample(client.Get("/metrics")->body, "ptrec_drift") == 1);

  // SIGHUP: a reconcile at once, though the interval is an hour.
  ::kill(pid, SIGHUP);
  text = wait_for("trigger=\"SIGHUP\"");
  CHECK(text.find("trigger=\"SIGHUP\"") != std::string::npos);
  CHECK(Sample(client.Get("/metrics")->body, "ptrec_reconciles_total{result=\"success\"}") == 2);

  // SIGTERM: stops and exits 0.
  ::kill(pid, SIGTERM);
  CHECK(ExitStatus(pid) == 0);
  CHECK(ReadText(log).find("msg=\"stopped\"") != std::string::npos);
}

TEST_CASE("serve: option checks and parsers", "[serve]") {
  CHECK(serve::ParseDuration("60s").value() == 60s);
  CHECK(serve::ParseDuration("500ms").value() == 500ms);
  CHECK(serve::ParseDuration("5m").value() == 300s);
  CHECK(serve::ParseDuration("1h").value() == 3600s);
  CHECK(serve::ParseDuration("30").value() == 30s);
  CHECK(!serve::ParseDuration("soon"));
  CHECK(!serve::ParseDuration("5 parsecs"));
  CHECK(serve::ParseListen("127.0.0.1:9464").value() == std::pair<std::string, int>{"127.0.0.1", 9464});
  CHECK(serve::ParseListen("[::1]:0").value() == std::pair<std::string, int>{"::1", 0});
  CHECK(serve::ParseListen(":9464").value().first == "0.0.0.0");
  CHECK(!serve::ParseListen("::1:9464"));
  CHECK(!serve::ParseListen("127.0.0.1:99999"));
  CHECK(!serve::ParseListen("127.0.0.1"));
  CHECK(serve::ConstantTimeEquals("abc", "abc"));
  CHECK(!serve::ConstantTimeEquals("abd", "abc"));
  CHECK(!serve::ConstantTimeEquals("abcabc", "abc"));
  CHECK(!serve::ConstantTimeEquals("", "abc"));
  CHECK(serve::RedactUrl("https://git.example/raw/h.yaml?token=abc") == "https://git.example/raw/h.yaml?...");
  CHECK(serve::RedactUrl("http://h/p.yaml") == "http://h/p.yaml");
  auto with_credentials = serve::SourceFetcher::Make("https://bob:hunter2@git.example/h.yaml", "", 1s);
  REQUIRE(!with_credentials);
  CHECK(with_credentials.error().message.find("hunter2") == std::string::npos);
  CHECK(!serve::SourceFetcher::Make("ftp://git.example/h.yaml", "", 1s));

  // The binary refuses what cannot work, before listening.
  ScopedTempDir tmp("serve-opts");
  WriteText(tmp.Sub("host.yaml"), "apiVersion: ptrec/v1\nkind: HostConfig\n");
  Run no_token = RunPtrec({"serve", "--root", tmp.path(), "--config", tmp.Sub("host.yaml"), "--allow-apply", "--simulate"});
  CHECK(no_token.exit_code == 1);
  CHECK(no_token.err.find("--token-file") != std::string::npos);
  Run no_sim = RunPtrec({"serve", "--root", tmp.path(), "--config", tmp.Sub("host.yaml"), "--auto-apply"});
  CHECK(no_sim.exit_code == 1);
  CHECK(no_sim.err.find("--simulate") != std::string::npos);
  Run neither = RunPtrec({"serve", "--root", tmp.path()});
  CHECK(neither.exit_code == 1);
  CHECK(neither.err.find("--config") != std::string::npos);
}

}  // namespace ptrec::testing
