#include "Deidentify.h"
#include "ExportSupport.h"
#include "unionscope/pipeline/Errors.h"
#include "unionscope/pipeline/Version.h"
#include "unionscope/pipeline/dicom/DicomExport.h"
#include "unionscope/pipeline/dicom/DicomWriter.h"
#include "unionscope/pipeline/dicom/ExportCodes.h"

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmfg/fgderimg.h>
#include <dcmtk/dcmfg/fgfracon.h>
#include <dcmtk/dcmfg/fgpixmsr.h>
#include <dcmtk/dcmfg/fgplanor.h>
#include <dcmtk/dcmfg/fgplanpo.h>
#include <dcmtk/dcmfg/fgseg.h>
#include <dcmtk/dcmiod/iodreferences.h>
#include <dcmtk/dcmseg/segdoc.h>
#include <dcmtk/dcmseg/segment.h>
#include <fmt/format.h>

#include <memory>
#include <set>

namespace unionscope::dicom {
namespace {

namespace fs = std::filesystem;

CodeSequenceMacro code(const CodedConcept& concept) {
  return CodeSequenceMacro(concept.value.c_str(), concept.scheme.c_str(), concept.meaning.c_str());
}

struct SegmentSpec {
  int number;
  const char* label;
  CodedConcept category;
  CodedConcept type;
};

const std::array<SegmentSpec, 3> kSegments{{
    {kSegmentBone, "Bone", codes::kTissueCategory, codes::kBone},
    {kSegmentCallus, "Callus", codes::kMorphologicallyAlteredCategory, codes::kCallusFinding},
    {kSegmentMetal, "Metal", codes::kPhysicalObjectCategory, codes::kMetal},
}};

} // namespace

SegmentationSummary writeSegmentation(const SegmentationRequest& request, const fs::path& file) {
  const ExportChecker check(file, "segmentation");
  const MaskImage& labels = *request.labels;
  const auto size = labels.GetLargestPossibleRegion().GetSize();
  if (request.sliceSources.size() != size[2] || size[0] > 65535 || size[1] > 65535) {
    throw DicomError(fmt::format("{}: one source image per slice is required", file.string()));
  }
  const Uint16 rows = static_cast<Uint16>(size[1]);
  const Uint16 columns = static_cast<Uint16>(size[0]);

  const IODGeneralEquipmentModule::EquipmentInfo equipment("UnionScope", kSoftwareName, "1",
                                                           kVersion);
  // Content Creator's Name is a person's (type 2): an algorithm leaves it empty.
  const ContentIdentificationMacro content("1", "UNIONSCOPE", "bone, callus and metal", "");
  DcmSegmentation* created = nullptr;
  check(DcmSegmentation::createBinarySegmentation(created, rows, columns, equipment, content),
        "create");
  const std::unique_ptr<DcmSegmentation> seg(created);

  const std::unique_ptr<DcmFileFormat> source = loadSourceHeader(request.sliceSources.front().path);
  check(seg->importFromSourceImage(*source->getDataset()), "import patient and study");
  OFString studyUid;
  OFString patientId;
  source->getDataset()->findAndGetOFString(DCM_StudyInstanceUID, studyUid);
  const SourceDates dates = sourceDates(*source->getDataset());
  source->getDataset()->findAndGetOFString(DCM_PatientID, patientId);
  check(seg->getSeries().setSeriesInstanceUID(request.seriesInstanceUid.c_str()), "series UID");
  check(seg->getSeries().setSeriesNumber(std::to_string(request.seriesNumber).c_str()),
        "series number");
  check(seg->getSeries().setSeriesDescription(request.seriesDescription.c_str()),
        "series description");
  check(seg->getSOPCommon().setSOPInstanceUID(request.sopInstanceUid.c_str()), "SOP UID");
  // Dates from the source study: the same input always writes the same file.
  check(seg->getSOPCommon().setInstanceCreationDate(dates.date), "creation date");
  check(seg->getSOPCommon().setInstanceCreationTime(dates.time), "creation time");
  check(seg->getGeneralImage().setContentDate(dates.date), "content date");
  check(seg->getGeneralImage().setContentTime(dates.time), "content time");

  // One plane orientation and pixel spacing for every frame.
  const auto spacing = labels.GetSpacing();
  const auto direction = labels.GetDirection();
  FGPixelMeasures measures;
  check(measures.setPixelSpacing(
            fmt::format("{}\\{}", formatDs(spacing[1]), formatDs(spacing[0])).c_str()),
        "pixel spacing");
  check(measures.setSliceThickness(formatDs(spacing[2]).c_str()), "slice thickness");
  check(measures.setSpacingBetweenSlices(formatDs(spacing[2]).c_str()), "slice spacing");
  check(seg->addForAllFrames(measures), "pixel measures");
  FGPlaneOrientationPatient orientation;
  check(orientation.setImageOrientationPatient(
            formatDs(direction(0, 0)).c_str(), formatDs(direction(1, 0)).c_str(),
            formatDs(direction(2, 0)).c_str(), formatDs(direction(0, 1)).c_str(),
            formatDs(direction(1, 1)).c_str(), formatDs(direction(2, 1)).c_str()),
        "orientation");
  check(seg->addForAllFrames(orientation), "orientation");

  // Frames are ordered by segment, then slice; dimensions say so.
  IODMultiframeDimensionModule& dimensions = seg->getDimensions();
  const OFString organization = request.dimensionOrganizationUid.c_str();
  check(dimensions.addDimensionIndex(DCM_ReferencedSegmentNumber, organization,
                                     DCM_SegmentIdentificationSequence, "ReferencedSegmentNumber"),
        "segment dimension");
  check(dimensions.addDimensionIndex(DCM_ImagePositionPatient, organization,
                                     DCM_PlanePositionSequence, "ImagePositionPatient"),
        "position dimension");

  const std::size_t slicePixels = size[0] * size[1];
  const std::uint8_t* voxels = labels.GetBufferPointer();
  std::vector<Uint8> frame(slicePixels);
  SegmentationSummary summary;
  std::set<std::size_t> referencedSlices;
  for (const SegmentSpec& spec : kSegments) {
    DcmSegment* segment = nullptr;
    check(DcmSegment::create(segment, spec.label, code(spec.category), code(spec.type),
                             DcmSegTypes::SAT_AUTOMATIC, kSoftwareName),
          "segment");
    std::unique_ptr<DcmSegment> owned(segment);
    Uint16 number = 0;
    check(seg->addSegment(owned.get(), number), "add segment");
    owned.release(); // the segmentation owns it now
    if (number != spec.number) {
      throw DicomError(
          fmt::format("{}: segment {} got number {}", file.string(), spec.label, number));
    }
    for (std::size_t k = 0; k < size[2]; ++k) {
      const std::uint8_t* slice = voxels + k * slicePixels;
      bool any = false;
      for (std::size_t i = 0; i < slicePixels; ++i) {
        frame[i] = slice[i] == spec.number ? 1 : 0;
        any = any || frame[i] != 0;
      }
      if (!any) {
        continue;
      }
      MaskImage::PointType corner;
      labels.TransformIndexToPhysicalPoint({{0, 0, static_cast<itk::IndexValueType>(k)}}, corner);
      FGPlanePosPatient position;
      check(position.setImagePositionPatient(formatDs(corner[0]).c_str(),
                                             formatDs(corner[1]).c_str(),
                                             formatDs(corner[2]).c_str()),
            "position");
      FGFrameContent frameContent;
      check(frameContent.setDimensionIndexValues(number, 0), "frame content");
      check(frameContent.setDimensionIndexValues(static_cast<Uint32>(k + 1), 1), "frame content");
      FGSegmentation segmentation;
      check(segmentation.setReferencedSegmentNumber(number), "referenced segment");
      const DicomFileHeader& origin = request.sliceSources[k];
      ImageSOPInstanceReferenceMacro derivedFrom;
      check(derivedFrom.setReferencedSOPClassUID(origin.sopClassUid.c_str()), "source class");
      check(derivedFrom.setReferencedSOPInstanceUID(origin.sopInstanceUid.c_str()),
            "source instance");
      const std::unique_ptr<FGDerivationImage> derivation(FGDerivationImage::createMinimal(
          OFVector<ImageSOPInstanceReferenceMacro>(1, derivedFrom), "",
          code({"113076", "DCM", "Segmentation"}),
          code({"121322", "DCM", "Source image for image processing operation"})));
      if (!derivation) {
        throw DicomError(
            fmt::format("{}: cannot reference {}", file.string(), origin.path.filename().string()));
      }
      OFVector<FGBase*> perFrame;
      perFrame.push_back(&position);
      perFrame.push_back(&frameContent);
      perFrame.push_back(&segmentation);
      perFrame.push_back(derivation.get());
      check(seg->addFrame(frame.data(), number, perFrame), "frame");
      ++summary.frames[static_cast<std::size_t>(spec.number - 1)];
      referencedSlices.insert(k);
    }
  }
  if (referencedSlices.empty()) {
    throw DicomError(fmt::format("{}: no bone, callus or metal to segment", file.string()));
  }

  // Common Instance Reference: the source series and the images the frames
  // derive from.
  IODReferences references;
  for (std::size_t k : referencedSlices) {
    const DicomFileHeader& origin = request.sliceSources[k];
    auto reference = std::make_unique<IODImageReference>(
        patientId, studyUid, origin.seriesInstanceUid.c_str(), origin.sopInstanceUid.c_str(),
        origin.sopClassUid.c_str());
    if (references.add(reference.get())) {
      reference.release(); // the reference set owns it now
    }
  }
  seg->getCommonInstanceReference().addReferences(references, studyUid);

  DcmFileFormat out;
  check(seg->writeDataset(*out.getDataset()), "dataset");
  if (request.deidentification) {
    deidentifyDataset(*out.getDataset(), *request.deidentification);
  }
  check(saveExport(out, file), "save");
  return summary;
}

} // namespace unionscope::dicom
