#include "report/report_writer.h"

#include <filesystem>

#include "onnx_io/atomic_file.h"
#include "report/accuracy_report.h"
#include "report/html_report.h"

namespace vitq {

Status checkReportPath(const std::string& path) {
  const std::string ext = std::filesystem::path(path).extension().string();
  if (ext == ".json" || ext == ".md" || ext == ".html") return checkDestinationFolder(path).withContext("--report");
  return invalidArgument("--report '" + path + "': the format follows the extension, .json, .md or .html");
}

Status writeReportFile(const nlohmann::json& report, const std::string& path) {
  VITQ_RETURN_IF_ERROR(checkReportPath(path));
  const std::string ext = std::filesystem::path(path).extension().string();
  std::string text;
  if (ext == ".json") text = report.dump(2) + "\n";
  else if (ext == ".md") text = accuracyMarkdown(report);
  else text = renderHtmlReport(report);
  AtomicFile file(path);
  VITQ_RETURN_IF_ERROR(file.write(text));
  return file.commit();
}

}  // namespace vitq
