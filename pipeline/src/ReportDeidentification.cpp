#include "ReportDeidentification.h"

#include "dicom/Deidentify.h"
#include "unionscope/pipeline/Audit.h"
#include "unionscope/pipeline/Dates.h"
#include "unionscope/pipeline/dicom/UidFactory.h"

#include <string_view>

namespace unionscope {
namespace {

using Json = nlohmann::ordered_json;

bool endsWith(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

class ReportDeidentifier {
public:
  ReportDeidentifier(const dicom::Deidentification& how,
                     const std::map<std::string, std::string>& sha256ByPath)
      : how_(how), uids_(dicom::UidFactory::seedOf(how.uidSecret)), sha256ByPath_(sha256ByPath) {}

  void apply(Json& node) const {
    if (node.is_array()) {
      for (Json& item : node) {
        apply(item);
      }
      return;
    }
    if (!node.is_object()) {
      return;
    }
    for (auto& [key, value] : node.items()) {
      if (key == "patient_id" && !value.is_null()) {
        value = how_.pseudonym;
      } else if (key == "study_date" && value.is_string()) {
        value = shiftedIsoDate(value.get<std::string>());
      } else if (endsWith(key, "_uid") && value.is_string()) {
        value = dicom::deidentifiedUid(value.get<std::string>(), uids_);
      } else if (key == "source_files" && value.is_array()) {
        for (Json& file : value) {
          if (file.is_string()) {
            file = "sha256:" + sha256Of(file.get<std::string>());
          }
        }
      } else {
        apply(value);
      }
    }
  }

private:
  [[nodiscard]] std::string sha256Of(const std::string& path) const {
    const auto known = sha256ByPath_.find(path);
    return known != sha256ByPath_.end() ? known->second : sha256OfFile(path);
  }

  /// A date that cannot be shifted cannot be kept.
  [[nodiscard]] Json shiftedIsoDate(const std::string& date) const {
    const std::optional<long> days = daysSinceEpoch(date);
    if (!days) {
      return nullptr;
    }
    return isoDate(dicomDate(*days + how_.dateShiftDays));
  }

  const dicom::Deidentification& how_;
  dicom::UidFactory uids_;
  const std::map<std::string, std::string>& sha256ByPath_;
};

} // namespace

void deidentifyReport(Json& report, const dicom::Deidentification& how,
                      const std::map<std::string, std::string>& sha256ByPath) {
  ReportDeidentifier(how, sha256ByPath).apply(report);
}

} // namespace unionscope
