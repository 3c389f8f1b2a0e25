#pragma once
// Internals shared by the phantom's renderer and writer.

#include "unionscope/sample_data/Phantom.h"

#include <array>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace unionscope::phantom {

struct Vec3 {
  double x = 0, y = 0, z = 0;
  Vec3 operator+(const Vec3& o) const { return {x + o.x, y + o.y, z + o.z}; }
  Vec3 operator-(const Vec3& o) const { return {x - o.x, y - o.y, z - o.z}; }
  Vec3 operator*(double s) const { return {x * s, y * s, z * s}; }
  [[nodiscard]] double dot(const Vec3& o) const { return x * o.x + y * o.y + z * o.z; }
  [[nodiscard]] std::array<double, 3> array() const { return {x, y, z}; }
};

/// The limb's own frame in patient coordinates: medial, anterior and the shaft
/// axis (toward the head), with the origin on the shaft axis at the volume's
/// centre height.
struct LimbFrame {
  Vec3 origin, medial, anterior, axis;
  [[nodiscard]] Vec3 toLimb(const Vec3& p) const {
    const Vec3 d = p - origin;
    return {d.dot(medial), d.dot(anterior), d.dot(axis)};
  }
  [[nodiscard]] Vec3 toPatient(const Vec3& q) const {
    return origin + medial * q.x + anterior * q.y + axis * q.z;
  }
};

LimbFrame limbFrame(const PatientSpec& spec, std::size_t visitIndex);
/// Fracture plane in the limb frame: a point on the shaft axis and the normal.
Vec3 fractureCentreLimb(const PatientSpec& spec);
Vec3 fractureNormalLimb(const PatientSpec& spec);
/// Outer radius of the tibial shaft at polar angle theta (0 = medial,
/// pi/2 = anterior) in the limb frame: a rounded triangle with the crest
/// anterior.
double tibiaOuterRadius(const PatientSpec& spec, double theta);

/// A rendered visit: the CT as written, plus the linear attenuation (1/mm) of
/// the noiseless phantom on the same grid, for the radiographs.
struct RenderedVisit {
  VisitVolume ct;
  std::vector<float> attenuation;
  LimbFrame frame;
};
RenderedVisit renderVisit(const PatientSpec& spec, std::size_t visitIndex);

enum class View { AP, Lateral };

struct ProjectionRadiograph {
  RadiographImage::Pointer image;
  /// Fracture line's end points, pixel (column, row), on the cortices this
  /// view shows.
  std::array<std::array<double, 2>, 2> fractureLine{};
  /// 255 where the ray runs through metal (row-major, the image's size).
  std::vector<std::uint8_t> metal;
};
ProjectionRadiograph projectRadiograph(const PatientSpec& spec, const RenderedVisit& visit,
                                       std::size_t visitIndex, View view);

/// The radiograph's metal truth as a PNG (255 where a ray runs through
/// metal).
void writeMetalMask(const ProjectionRadiograph& radiograph, const std::filesystem::path& file);

/// PNGs of one visit (axial and coronal CT through the fracture, both
/// radiographs with the true fracture line) named `<label>_*.png`.
void writeVisitPreviews(const RenderedVisit& visit, const ProjectionRadiograph& ap,
                        const ProjectionRadiograph& lateral, const std::filesystem::path& directory,
                        const std::string& label);
/// One picture of all visits: a row per visit (axial, coronal, AP, lateral),
/// read back from the previews, written as `sheet.jpg`.
void writePreviewSheet(const std::filesystem::path& directory,
                       const std::vector<std::string>& labels);

} // namespace unionscope::phantom
