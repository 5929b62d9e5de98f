#include "report/report_writer.h"

#include <filesystem>

#include "onnx_io/atomic_file.h"
#include "report/accuracy_report.h"

namespace vitq {

Status writeReportFile(const nlohmann::json& report, const std::string& path) {
  const std::string ext = std::filesystem::path(path).extension().string();
  std::string text;
  if (ext == ".json") text = report.dump(2) + "\n";
  else if (ext == ".md") text = accuracyMarkdown(report);
  else return invalidArgument("--report '" + path + "': the format follows the extension, .json or .md");
  AtomicFile file(path);
  VITQ_RETURN_IF_ERROR(file.write(text));
  return file.commit();
}

}  // namespace vitq
