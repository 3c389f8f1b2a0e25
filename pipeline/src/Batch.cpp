#include "unionscope/pipeline/Batch.h"

#include "unionscope/filters/Parallelism.h"
#include "unionscope/pipeline/Audit.h"
#include "unionscope/pipeline/Cohort.h"
#include "unionscope/pipeline/Errors.h"
#include "unionscope/pipeline/OutputFiles.h"
#include "unionscope/pipeline/dicom/DicomLibrary.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/task_arena.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

extern char** environ;

namespace unionscope {
namespace {

namespace fs = std::filesystem;

/// Folder key of a patient: FNV-1a of the Patient ID, so that folder names
/// are stable across runs (for --resume) and carry no identifier.
std::string patientKey(const std::string& patientId) {
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  for (unsigned char c : patientId) {
    hash = (hash ^ c) * 0x100000001b3ULL;
  }
  return fmt::format("patient_{:016x}", hash);
}

/// Every file of the patient the scan accepted.
std::vector<fs::path> sourceFiles(const dicom::PatientGroup& patient) {
  std::vector<fs::path> files;
  for (const dicom::StudyGroup& study : patient.studies) {
    for (const dicom::SeriesGroup& series : study.series) {
      for (const dicom::DicomFileHeader& header : series.instances) {
        files.push_back(header.path);
      }
    }
  }
  std::sort(files.begin(), files.end());
  files.erase(std::unique(files.begin(), files.end()), files.end());
  return files;
}

/// What became of one patient: "analysed", "resumed" or "failed" (why).
struct PatientRun {
  std::string status;
  std::string failure;
};

/// Present in a patient's folder while its analysis runs, removed once it
/// finished: an audit.json from an earlier run beside it (a rerun that
/// crashed or was stopped) does not make the patient finished.
constexpr const char* kUnfinishedMarker = ".unfinished";

void markUnfinished(const fs::path& out) {
  fs::create_directories(out);
  writeFileAtomically(out / kUnfinishedMarker, "");
}

void markFinished(const fs::path& out) {
  std::error_code ignored;
  fs::remove(out / kUnfinishedMarker, ignored);
}

/// audit.json is written last: with it, and no run left unfinished since,
/// the patient finished.
bool finished(const fs::path& out) {
  return fs::exists(out / "audit.json") && !fs::exists(out / kUnfinishedMarker);
}

void analyseInThisProcess(const dicom::ScanResult& scan, const BatchOptions& options, int jobs,
                          const std::vector<std::size_t>& todo, std::vector<PatientRun>& runs) {
  // ITK and DCMTK fill some globals lazily, without locks: filled here,
  // before patients run side by side.
  prepareToolkitsForConcurrentAnalyses();
  dicom::prepareDicomToolkitForConcurrentUse();
  oneapi::tbb::task_arena arena(jobs);
  arena.execute([&] {
    oneapi::tbb::parallel_for(std::size_t{0}, todo.size(), [&](std::size_t t) {
      const std::size_t i = todo[t];
      AnalyzeOptions analyze = options.analyze;
      analyze.outputDirectory =
          options.outputDirectory / "patients" / patientKey(scan.patients[i].patientId);
      try {
        markUnfinished(analyze.outputDirectory);
        analyzeScannedPatient(scan.patients[i], {}, analyze, utcTimestampNow());
        markFinished(analyze.outputDirectory);
        runs[i].status = "analysed";
      } catch (const std::exception& error) {
        runs[i] = {"failed", error.what()};
      }
    });
  });
}

/// The log level the child is given: the batch's own.
std::string childLogLevel() {
  switch (spdlog::get_level()) {
  case spdlog::level::trace:
    return "trace";
  case spdlog::level::debug:
    return "debug";
  case spdlog::level::info:
    return "info";
  case spdlog::level::warn:
    return "warn";
  case spdlog::level::off:
    return "off";
  default:
    return "error";
  }
}

/// `unionscope analyze` for one patient's files (listed in `inputsList`).
std::vector<std::string> workerArguments(const BatchOptions& options, const fs::path& inputsList,
                                         const fs::path& out, int threads) {
  std::vector<std::string> arguments = {options.workerExecutable.string(),
                                        "--threads",
                                        std::to_string(threads),
                                        "--log-level",
                                        childLogLevel(),
                                        "analyze",
                                        "--inputs-from",
                                        inputsList.string(),
                                        "--out",
                                        out.string(),
                                        "--no-snapshot"};
  if (options.analyze.referenceDate) {
    arguments.insert(arguments.end(), {"--reference-date", *options.analyze.referenceDate});
  }
  if (!options.analyze.writeDicom) {
    arguments.emplace_back("--no-dicom");
  }
  if (!options.analyze.writeVolumes) {
    arguments.emplace_back("--no-volumes");
  }
  return arguments;
}

/// Starts the child with its output (stdout and stderr) in `log`, readable
/// by the owner only (the paths in it name the archive's folders).
pid_t startWorker(const std::vector<std::string>& arguments, const fs::path& log) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  std::vector<char*> argv;
  for (const std::string& argument : arguments) {
    argv.push_back(const_cast<char*>(argument.c_str()));
  }
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int error = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (error != 0) {
    throw std::runtime_error(
        fmt::format("cannot start {}: {}", arguments.front(), std::strerror(error)));
  }
  return pid;
}

/// waitpid, again when a signal interrupts it.
pid_t waitFor(pid_t pid, int& status, int flags) {
  pid_t waited = 0;
  do {
    waited = waitpid(pid, &status, flags);
  } while (waited < 0 && errno == EINTR);
  return waited;
}

/// The last "error: ..." line the child logged, without its prefix.
std::string lastErrorLine(const fs::path& log) {
  std::ifstream in(log);
  std::string line, last;
  while (std::getline(in, line)) {
    if (line.rfind("error: ", 0) == 0) {
      last = line.substr(7);
    }
  }
  return last;
}

/// The patient's outcome from the child's wait status. An analysis that
/// finished (exit 0, or 1 when some of its series or files failed, as
/// `analyze` reports them) wrote its audit last.
PatientRun workerOutcome(int waitStatus, const fs::path& log, const fs::path& out) {
  const std::string logName = "logs/" + log.filename().string();
  if (WIFSIGNALED(waitStatus)) {
    const int signal = WTERMSIG(waitStatus);
    return {"failed", fmt::format("the analysis crashed (signal {}, {}); its output is in {}",
                                  signal, strsignal(signal), logName)};
  }
  const int code = WIFEXITED(waitStatus) ? WEXITSTATUS(waitStatus) : -1;
  if ((code == 0 || code == 1) && fs::exists(out / "audit.json")) {
    return {"analysed", ""};
  }
  const std::string error = lastErrorLine(log);
  return {"failed", error.empty() ? fmt::format("the analysis ended with exit code {}; its output "
                                                "is in {}",
                                                code, logName)
                                  : error};
}

/// Set by SIGINT, SIGTERM or SIGHUP while children run.
volatile std::sig_atomic_t stopSignal = 0;

void noteStopSignal(int signal) {
  stopSignal = signal;
}

/// The children running, stopped and reaped however the batch ends: an
/// exception, or a signal that stops the batch (the children would
/// otherwise run on and race a resumed batch for their folders).
class Children {
public:
  struct Child {
    pid_t pid;
    std::size_t patient;
    std::chrono::steady_clock::time_point started;
    fs::path inputs; ///< its list of files, removed when it ends
  };

  Children() {
    // Whoever started us may ignore SIGCHLD; the children's statuses are
    // needed.
    std::signal(SIGCHLD, SIG_DFL);
    stopSignal = 0;
    for (int signal : {SIGINT, SIGTERM, SIGHUP}) {
      previous_.push_back(std::signal(signal, noteStopSignal));
    }
  }
  ~Children() {
    stopAll();
    int k = 0;
    for (int signal : {SIGINT, SIGTERM, SIGHUP}) {
      std::signal(signal, previous_[static_cast<std::size_t>(k++)]);
    }
    if (stopSignal != 0) {
      std::raise(stopSignal);
    }
  }
  Children(const Children&) = delete;
  Children& operator=(const Children&) = delete;

  void stopAll() {
    for (const Child& child : running) {
      int status = 0;
      kill(child.pid, SIGKILL);
      waitFor(child.pid, status, 0);
      std::error_code ignored;
      fs::remove(child.inputs, ignored);
    }
    running.clear();
  }

  std::vector<Child> running;

private:
  std::vector<void (*)(int)> previous_;
};

void analyseInWorkers(const dicom::ScanResult& scan, const BatchOptions& options, int jobs,
                      const std::vector<std::size_t>& todo, std::vector<PatientRun>& runs) {
  const fs::path logs = options.outputDirectory / "logs";
  fs::create_directories(logs);
  // Each child gets an equal share of the threads the batch may use.
  const int threads = std::max(1, allowedParallelism() / jobs);
  struct PatientFiles {
    fs::path inputs; ///< the list of its files the child reads
    fs::path log;    ///< the child's output
    fs::path out;    ///< the analysis' folder
  };
  const auto filesOf = [&](std::size_t i) {
    const std::string key = patientKey(scan.patients[i].patientId);
    return PatientFiles{logs / (key + ".inputs"), logs / (key + ".log"),
                        options.outputDirectory / "patients" / key};
  };
  const auto finish = [&](std::size_t patient, const PatientRun& run) {
    runs[patient] = run;
    const PatientFiles files = filesOf(patient);
    std::error_code ignored;
    fs::remove(files.inputs, ignored);
    if (run.status == "analysed") {
      markFinished(files.out);
    }
  };
  const auto limit = std::chrono::duration<double, std::ratio<60>>(options.patientTimeoutMinutes);
  Children children;
  children.running.reserve(static_cast<std::size_t>(jobs));
  std::size_t next = 0;
  while ((next < todo.size() || !children.running.empty()) && stopSignal == 0) {
    while (static_cast<int>(children.running.size()) < jobs && next < todo.size()) {
      const std::size_t i = todo[next++];
      const auto [inputs, log, out] = filesOf(i);
      try {
        std::string list;
        for (const fs::path& file : sourceFiles(scan.patients[i])) {
          list += file.string() + "\n";
        }
        writeFileAtomically(inputs, list);
        fs::permissions(inputs, fs::perms::owner_read | fs::perms::owner_write);
        markUnfinished(out);
        children.running.push_back(
            {startWorker(workerArguments(options, inputs, out, threads), log), i,
             std::chrono::steady_clock::now(), inputs});
      } catch (const std::exception& error) {
        finish(i, {"failed", error.what()});
      }
    }
    bool ended = false;
    for (auto child = children.running.begin(); child != children.running.end();) {
      int status = 0;
      if (waitFor(child->pid, status, WNOHANG) == child->pid) {
        const PatientFiles files = filesOf(child->patient);
        finish(child->patient, workerOutcome(status, files.log, files.out));
        child = children.running.erase(child);
        ended = true;
      } else if (options.patientTimeoutMinutes > 0 &&
                 std::chrono::steady_clock::now() - child->started > limit) {
        kill(child->pid, SIGKILL);
        waitFor(child->pid, status, 0);
        finish(child->patient, {"failed", fmt::format("stopped: no result after {} minutes",
                                                      options.patientTimeoutMinutes)});
        child = children.running.erase(child);
        ended = true;
      } else {
        ++child;
      }
    }
    if (!ended) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
}

} // namespace

BatchOutcome runBatch(const BatchOptions& options) {
  if (!options.workerExecutable.empty() &&
      (options.analyze.patientId || options.analyze.useRadiographScores ||
       options.analyze.deidentify.enabled || !options.analyze.viewHint.empty() ||
       options.analyze.renderSnapshot || options.analyze.ct.fractureHint)) {
    throw UsageError("a batch in worker processes passes on only the reference date and "
                     "whether to write DICOM and volumes; analyse in this process for the rest");
  }
  const dicom::ScanResult scan = dicom::scanDicom({options.archive});
  BatchOutcome outcome;
  outcome.patients = static_cast<int>(scan.patients.size());
  outcome.filesRejected = static_cast<int>(scan.rejected.size());
  if (scan.patients.empty()) {
    throw UsageError("no usable DICOM image in " + options.archive.string());
  }
  const fs::path patientsDir = options.outputDirectory / "patients";
  std::vector<PatientRun> runs(scan.patients.size());
  std::vector<std::size_t> todo;
  for (std::size_t i = 0; i < scan.patients.size(); ++i) {
    if (options.resume && finished(patientsDir / patientKey(scan.patients[i].patientId))) {
      runs[i].status = "resumed";
    } else {
      todo.push_back(i);
    }
  }
  // Never more patients at once than threads allowed (--threads): each
  // child process is an analysis of its own.
  const int jobs = std::min(options.jobs > 0 ? options.jobs : allowedParallelism(),
                            std::max(1, allowedParallelism()));
  if (options.workerExecutable.empty()) {
    analyseInThisProcess(scan, options, jobs, todo, runs);
  } else {
    analyseInWorkers(scan, options, jobs, todo, runs);
  }

  std::string failures = "kind,path_or_patient,reason\n";
  for (const dicom::RejectedFile& file : scan.rejected) {
    failures += fmt::format("file,{},{}\n", csvQuote(file.path.string()), csvQuote(file.reason));
  }
  for (std::size_t i = 0; i < scan.patients.size(); ++i) {
    outcome.analysed += runs[i].status == "analysed" ? 1 : 0;
    outcome.resumed += runs[i].status == "resumed" ? 1 : 0;
    if (runs[i].status == "failed") {
      ++outcome.failed;
      failures += fmt::format("patient,{},{}\n", patientKey(scan.patients[i].patientId),
                              csvQuote(runs[i].failure));
      spdlog::warn("{}: {}", patientKey(scan.patients[i].patientId), runs[i].failure);
    }
  }
  writeFileAtomically(options.outputDirectory / "failures.csv", failures);

  // Cohort endpoints over every finished patient, and the patient x visit table.
  CohortOptions cohort;
  cohort.inputs = {patientsDir};
  cohort.outputDirectory = options.outputDirectory;
  if (outcome.analysed + outcome.resumed > 0) {
    computeCohort(cohort);
  }
  std::string table =
      "patient_folder,patient_id,timepoint,weeks,union,rust,mrust,union_timepoint\n";
  for (const dicom::PatientGroup& patient : scan.patients) {
    const fs::path report = patientsDir / patientKey(patient.patientId) / "report.json";
    if (!fs::exists(report)) {
      continue;
    }
    std::ifstream in(report);
    const nlohmann::json json = nlohmann::json::parse(in);
    const auto text = [](const nlohmann::json& v) {
      return v.is_null() ? std::string() : v.is_string() ? v.get<std::string>() : v.dump();
    };
    for (const auto& tp : json["timepoints"]) {
      table += fmt::format(
          "{},{},{},{},{},{},{},{}\n", patientKey(patient.patientId),
          csvQuote(text(json["patient_id"])), csvQuote(text(tp["label"])), text(tp["weeks"]),
          text(tp.value("union", nlohmann::json())), text(tp.value("rust", nlohmann::json())),
          text(tp.value("mrust", nlohmann::json())), csvQuote(text(json["union_timepoint"])));
    }
  }
  writeFileAtomically(options.outputDirectory / "cohort.csv", table);
  return outcome;
}

} // namespace unionscope
