// Implants on a radiograph: metal candidates, their shape and brightness tests.

#include "RadiographInternals.h"

namespace unionscope::radiograph {
namespace {

/// Candidate implants: the brightest tissue, standing well above a thin
/// ring around it. Bright bone (a doubled-over metaphysis, the foot) mostly
/// fades into the bone around it; what passes is checked against the bone's
/// level in findMetal, unless it is shaped like an implant (see
/// RadiographAnalysisParameters::implantMinElongation).
struct MetalCandidates {
  cv::Mat all;           ///< CV_8U
  cv::Mat implantShaped; ///< CV_8U, a subset of all
  cv::Mat nailShaped;    ///< CV_8U, a subset of all: implant shapes of the lower level
  /// CV_8U, a subset of all: large and partly in the air (an external
  /// fixator's frame and pins, or a border strip, or a label).
  cv::Mat external;
};

/// The width of the ring a metal candidate is compared with, in pixels.
int ringWidth(const cv::Mat& image) {
  return std::max(3, static_cast<int>(std::lround(0.006 * std::max(image.rows, image.cols))));
}

/// Candidates of one level: above `share` of the range. Below
/// metalShareOfMax only what is shaped like an implant counts (`shapeOnly`).
void addMetalCandidates(const cv::Mat& image, const TissueMaps& maps, const cv::Mat& rest,
                        double low, double range, double share, bool shapeOnly,
                        const RadiographAnalysisParameters& p, MetalCandidates& kept) {
  cv::Mat candidates = (image >= low + share * range) & rest;
  if (shapeOnly) {
    // At this level a nail joins the bright bone end it runs into: only
    // the thin parts (what an opening by a disc of implantMaxWidthShare
    // limb half-widths removes) are looked at. The opening is done by two
    // distance transforms (as a morphological opening by a disc tens of
    // pixels wide it doubled the analysis' time), both within the
    // candidates' bounding box grown so that the distances inside it are
    // those over the whole film.
    const double radius = std::round(0.5 * p.implantMaxWidthShare * maps.limbHalf);
    const int margin = static_cast<int>(radius) + 2;
    const cv::Rect box = grownWithin(cv::boundingRect(candidates), margin, image.size());
    if (!box.empty()) {
      cv::Mat inward, outward;
      cv::distanceTransform(candidates(box), inward, cv::DIST_L2, cv::DIST_MASK_5);
      const cv::Mat centres = inward > radius;
      cv::distanceTransform(centres == 0, outward, cv::DIST_L2, cv::DIST_MASK_5);
      cv::Mat inBox = candidates(box);
      inBox &= ~(outward <= radius);
    }
  }
  cv::Mat labels, stats, centroids;
  const int count = cv::connectedComponentsWithStats(candidates, labels, stats, centroids, 8);
  // Each component's pixels on the film's top, bottom, left and right edge,
  // counted once rather than from a full-image mask per component.
  std::vector<std::array<int, 4>> edgeCounts(static_cast<std::size_t>(count), {0, 0, 0, 0});
  for (int x = 0; x < image.cols; ++x) {
    ++edgeCounts[static_cast<std::size_t>(labels.at<int>(0, x))][0];
    ++edgeCounts[static_cast<std::size_t>(labels.at<int>(image.rows - 1, x))][1];
  }
  for (int y = 0; y < image.rows; ++y) {
    ++edgeCounts[static_cast<std::size_t>(labels.at<int>(y, 0))][2];
    ++edgeCounts[static_cast<std::size_t>(labels.at<int>(y, image.cols - 1))][3];
  }
  const int ring = ringWidth(image);
  const cv::Mat element =
      cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(2 * ring + 1, 2 * ring + 1));
  const double implantMinPixels = p.implantMinAreaShare * static_cast<double>(image.total());
  for (int l = 1; l < count; ++l) {
    const int area = stats.at<int>(l, cv::CC_STAT_AREA);
    if (area < p.metalMinPixels) {
      continue;
    }
    // Work inside the component's box grown by the ring.
    const cv::Rect box = cv::Rect(stats.at<int>(l, cv::CC_STAT_LEFT) - 2 * ring,
                                  stats.at<int>(l, cv::CC_STAT_TOP) - 2 * ring,
                                  stats.at<int>(l, cv::CC_STAT_WIDTH) + 4 * ring,
                                  stats.at<int>(l, cv::CC_STAT_HEIGHT) + 4 * ring) &
                         cv::Rect(0, 0, image.cols, image.rows);
    const cv::Mat inside = labels(box) == l;
    cv::Mat grown;
    cv::dilate(inside, grown, element);
    const cv::Mat around = grown & ~candidates(box) & rest(box);
    if (cv::countNonZero(around) == 0) {
      continue;
    }
    // Implants lie inside the limb, though a nail or a long plate may run
    // off the film: what lies along the film's edge is a border, a board or
    // a positioning aid.
    const double alongEdge =
        std::max({static_cast<double>(edgeCounts[static_cast<std::size_t>(l)][0]) / image.cols,
                  static_cast<double>(edgeCounts[static_cast<std::size_t>(l)][1]) / image.cols,
                  static_cast<double>(edgeCounts[static_cast<std::size_t>(l)][2]) / image.rows,
                  static_cast<double>(edgeCounts[static_cast<std::size_t>(l)][3]) / image.rows});
    if (alongEdge > p.metalMaxEdgeShare) {
      continue;
    }
    // Spread as the interquartile range (in sigmas): the blurred rim at the
    // threshold is not the metal's texture.
    std::vector<float> values;
    values.reserve(static_cast<std::size_t>(area));
    for (int y = 0; y < box.height; ++y) {
      const float* row = image.ptr<float>(box.y + y) + box.x;
      const std::uint8_t* mask = inside.ptr<std::uint8_t>(y);
      for (int x = 0; x < box.width; ++x) {
        if (mask[x] != 0) {
          values.push_back(row[x]);
        }
      }
    }
    std::sort(values.begin(), values.end());
    const double in = values[values.size() / 2];
    const double spread = (values[3 * values.size() / 4] - values[values.size() / 4]) / 1.349;
    const double out = cv::mean(image(box), around)[0];
    // Metal is flat at the top of the range; bright bone keeps its
    // trabecular texture. A hollow nail's walls or a plate's holes vary
    // smoothly, so the texture is what is left after a small blur, away
    // from the component's blurred rim.
    cv::Mat blurred, core;
    cv::GaussianBlur(image(box), blurred, cv::Size(), 1.5);
    cv::erode(inside, core, cv::Mat(), cv::Point(-1, -1), 2);
    cv::Scalar residualMean, texture;
    cv::meanStdDev(image(box) - blurred, residualMean, texture, core);
    const bool flat = spread <= p.metalFlatness * range ||
                      (cv::countNonZero(core) > 0 && texture[0] <= p.metalTexture * range);
    const double ringContrast = (in - out) / range;
    // A plate seen en face lies over the bone, so its ring is bone, not
    // soft tissue: it stands less above it, and the step to the bone is
    // only part of its drop to the tissue beyond. Its size, shape and
    // border still tell it from bone.
    const auto plateSeenEnFace = [&]() {
      return !shapeOnly && ringContrast >= p.plateEnFaceRingContrast &&
             area >= p.plateEnFaceMinAreaShare * static_cast<double>(image.total()) &&
             elongation(inside) >= p.implantMinElongation &&
             borderSharpness(image(box), inside, candidates(box) & ~inside, ring) >=
                 p.plateEnFaceMinSharpness;
    };
    if (!flat || (ringContrast < p.metalRingContrast && !plateSeenEnFace())) {
      continue;
    }
    // Implants lie in the limb: what has air around it is a lead marker or
    // a label. An external fixator's frame stands in the air too, but its
    // pins run through the soft tissue into the bone: a large component
    // with a fair part of its ring in the limb is kept as a candidate
    // (findMetal asks it to reach the bone).
    const double inLimb =
        cv::countNonZero(around & (image(box) > low + p.implantTissueShare * range)) /
        static_cast<double>(cv::countNonZero(around));
    if (inLimb < p.implantMinLimbShare) {
      if (!shapeOnly && area >= implantMinPixels && inLimb >= p.fixatorMinLimbShare) {
        kept.external(box).setTo(255, inside);
        kept.all(box).setTo(255, inside);
      }
      continue;
    }
    if (!shapeOnly) {
      kept.all(box).setTo(255, inside);
    }
    // A windowed 8-bit export can leave a plate or a nail barely brighter
    // than the bone, but its shape still gives it away: a large, long,
    // flat bar, stepping down sharply at its border. At the lower level a
    // nail stands out of the bone around it, not of soft tissue (less ring
    // contrast), and that bone lies in the body: a bright strip between
    // two exposures of one film does not.
    const double ringRequired = shapeOnly ? p.nailRingContrast : p.implantRingContrast;
    if (area < implantMinPixels || ringContrast < ringRequired) {
      continue;
    }
    if (shapeOnly &&
        cv::countNonZero(around & maps.body(box)) < p.nailMinBodyShare * cv::countNonZero(around)) {
      continue;
    }
    if (elongation(inside) >= p.implantMinElongation &&
        borderSharpness(image(box), inside, candidates(box) & ~inside, ring) >=
            p.implantMinSharpness) {
      (shapeOnly ? kept.nailShaped : kept.implantShaped)(box).setTo(255, inside);
      kept.all(box).setTo(255, inside);
    }
  }
}

/// `rest` (the pixels not yet found to be metal) spans `restRange`.
MetalCandidates metalCandidates(const cv::Mat& image, const cv::Mat& rest,
                                const FilmRange& restRange, const TissueMaps& maps,
                                const RadiographAnalysisParameters& p) {
  MetalCandidates kept{cv::Mat::zeros(image.size(), CV_8U), cv::Mat::zeros(image.size(), CV_8U),
                       cv::Mat::zeros(image.size(), CV_8U), cv::Mat::zeros(image.size(), CV_8U)};
  const double low = restRange.low;
  if (!(restRange.top > low)) {
    return kept;
  }
  const double range = restRange.top - low;
  addMetalCandidates(image, maps, rest, low, range, p.metalShareOfMax, false, p, kept);
  // A nail next to a plate or a brighter bone end can stay below the
  // metal level (a windowed export puts the plate at the top and the nail
  // at 0.65-0.75 of the range): a lower level, for implant shapes only.
  addMetalCandidates(image, maps, rest & (kept.all == 0), low, range, p.implantShareOfMax, true, p,
                     kept);
  return kept;
}

/// The share of bone in the band between `inner` and `outer` pixels outside
/// `mask`.
double boneInBand(const cv::Mat& mask, const cv::Mat& bone, int inner, int outer) {
  const cv::Mat band =
      dilatedByDisc(mask, std::max(1, outer)) & ~dilatedByDisc(mask, std::max(1, inner));
  const int total = cv::countNonZero(band);
  return total > 0 ? static_cast<double>(cv::countNonZero(band & bone)) / total : 0.0;
}

/// The share of bone in a band a quarter to 0.6 of a nail's width outside
/// it: a nail lies in a bone wider than itself, with cortex on either side;
/// a thin, dense bone shaft (shaped like a nail at the lower level) has
/// only soft tissue there.
double boneBeside(const cv::Mat& nail, const cv::Mat& bone) {
  cv::Mat distance;
  cv::distanceTransform(nail, distance, cv::DIST_L2, 3);
  double halfWidth = 0;
  cv::minMaxLoc(distance, nullptr, &halfWidth);
  return boneInBand(nail, bone, static_cast<int>(std::lround(0.5 * halfWidth)),
                    static_cast<int>(std::lround(1.2 * halfWidth)));
}

/// The share of bone in a band just beyond a component's blurred rim
/// (`ring` - 1 to `ring` + 1 pixels out): the rim of anything bright stands
/// out of its surroundings like bone, what lies beyond it does not.
double boneBeyondRim(const cv::Mat& component, const cv::Mat& bone, int ring) {
  return boneInBand(component, bone, ring - 1, ring + 1);
}

/// The compact parts of a rejected candidate that are themselves metal:
/// above the `required` level, shorter than an implant's bar, and stepping
/// up from the ring around them by `coreStep` of the bone's contrast over
/// soft tissue. A screw head seen end-on joins the plate it holds when the
/// plate, seen en face, is only a little brighter than the bone; the whole
/// candidate's median then fails the level and the screw was lost with it.
/// The brightest ridges of a dense cortex pass the level too, but they fade
/// into the cortex around them.
/// (`image` may be a crop of the film: `ring` is the film's ringWidth.)
cv::Mat saturatedCores(const cv::Mat& image, const cv::Mat& candidate, double required,
                       double contrast, int ring, const RadiographAnalysisParameters& p) {
  if (!(contrast > 0)) {
    // Bone no brighter than soft tissue: no step can be judged.
    return cv::Mat::zeros(image.size(), CV_8U);
  }
  cv::Mat cores = candidate & (image >= required);
  cv::Mat labels, stats, centroids;
  const int count = cv::connectedComponentsWithStats(cores, labels, stats, centroids, 8);
  cores.setTo(0);
  for (int l = 1; l < count; ++l) {
    if (stats.at<int>(l, cv::CC_STAT_AREA) < p.metalMinPixels) {
      continue;
    }
    const cv::Mat core = labels == l;
    if (elongation(core) >= p.implantMinElongation) {
      continue;
    }
    const cv::Mat around = dilatedByDisc(core, ring) & ~core;
    const double step = percentile(image, core, 0.5) - cv::mean(image, around)[0];
    if (step >= p.metalCoreStep * contrast) {
      cores.setTo(255, core);
    }
  }
  return cores;
}

} // namespace

void addMetalRim(cv::Mat& metal) {
  cv::dilate(metal, metal, cv::Mat(), cv::Point(-1, -1), 2);
}

FilmRange rangeOf(const cv::Mat& image, const cv::Mat& mask) {
  const auto [top, low] = percentiles<2>(image, mask, {0.9995, 0.02});
  return {low, top};
}

cv::Mat findMetal(const cv::Mat& image, const FilmRange& film, const TissueMaps& maps,
                  const RadiographAnalysisParameters& p) {
  cv::Mat metal = cv::Mat::zeros(image.size(), CV_8U);
  // Two levels: a plate or nail first, then what is bright next to the
  // rest (screws, thinner in projection than the plate they hold).
  double firstSoftLevel = 0.0;
  for (int level = 0; level < 2; ++level) {
    const cv::Mat rest = metal == 0;
    const MetalCandidates candidates =
        metalCandidates(image, rest, level == 0 ? film : rangeOf(image, rest), maps, p);
    if (cv::countNonZero(candidates.all) == 0) {
      break;
    }
    const cv::Mat excluded = metal | candidates.all;
    const cv::Mat bone = findBone(maps, excluded, p, false);
    const cv::Mat plainBone = bone & ~excluded;
    const double boneLevel = percentile(image, plainBone, 0.5);
    const cv::Mat notBone = (bone == 0) & ~excluded;
    const double softLevel = percentile(image, notBone, 0.75);
    if (std::isnan(boneLevel) || std::isnan(softLevel)) {
      break;
    }
    // With a saturated nail and the brightest bone beside it left out (a
    // wide shaft's lateral film), the second look's bone mask can take in
    // the whole limb: what is left as soft tissue is then at the air's
    // level, and its levels no longer tell bone from metal.
    if (level == 0) {
      firstSoftLevel = softLevel;
    } else if (softLevel < p.metalSoftLevelKept * firstSoftLevel) {
      break;
    }
    const double required = boneLevel + p.metalAboveBone * std::max(0.0, boneLevel - softLevel);
    // The implants this level found by their shape (a nail, a plate): the
    // cortex beside a nail, seen edge-on, is a long bright band parallel to
    // it and just beside it, and on a wide bone it passes the brightness
    // test (a 14 mm shaft's lateral film: 0.83 of the range against 0.80).
    // (The metal found by an earlier level is not asked about: the other
    // half of a nail cut by the fracture lies along it too.)
    // Built when first asked for: most films have no long candidate that
    // passes by brightness alone.
    const bool anyImplantShaped = cv::countNonZero(candidates.implantShaped) > 0;
    std::optional<std::vector<std::pair<Bar, cv::Mat>>> implantBars;
    const auto barsOfImplants = [&]() -> const std::vector<std::pair<Bar, cv::Mat>>& {
      if (!implantBars) {
        implantBars.emplace();
        cv::Mat implantLabels;
        const int implants = cv::connectedComponents(candidates.implantShaped, implantLabels, 8);
        for (int k = 1; k < implants; ++k) {
          const cv::Mat implant = implantLabels == k;
          const Bar bar = barOf(implant);
          implantBars->emplace_back(
              bar,
              dilatedByDisc(implant, std::max(1, static_cast<int>(std::lround(0.5 * bar.width)))));
        }
      }
      return *implantBars;
    };
    // Side by side with the implant, not in line with it (the other half
    // of a nail cut by the fracture lies on its axis).
    const auto cortexBesideImplant = [&](const cv::Mat& component, const cv::Rect& box) {
      if (!anyImplantShaped) {
        return false;
      }
      const Bar bar = barOf(component);
      if (bar.elongation() < p.implantMinElongation) {
        return false;
      }
      const cv::Point2d centre = bar.centre + cv::Point2d(box.x, box.y);
      for (const auto& [implant, beside] : barsOfImplants()) {
        double turn = std::abs(bar.angle - implant.angle);
        turn = std::min(turn, M_PI - turn);
        if (turn <= p.cortexStripMaxTurnDeg * M_PI / 180.0 &&
            implant.offAxis(centre) >= 0.5 * implant.width &&
            cv::countNonZero(component & beside(box)) > 0) {
          return true;
        }
      }
      return false;
    };
    cv::Mat labels, stats, centroids;
    const int count = cv::connectedComponentsWithStats(candidates.all, labels, stats, centroids, 8);
    int added = 0;
    for (int l = 1; l < count; ++l) {
      // Each component is looked at within its own box, not as a mask of
      // the whole film.
      const cv::Rect box(stats.at<int>(l, cv::CC_STAT_LEFT), stats.at<int>(l, cv::CC_STAT_TOP),
                         stats.at<int>(l, cv::CC_STAT_WIDTH), stats.at<int>(l, cv::CC_STAT_HEIGHT));
      const cv::Mat component = labels(box) == l;
      // Standing partly in the air, only an external fixator is metal: its
      // pins reach the bone; a border strip or a label does not.
      if (cv::countNonZero(component & candidates.external(box)) > 0 &&
          boneBeyondRim(labels == l, plainBone, ringWidth(image)) < p.fixatorMinBoneBeyond) {
        continue;
      }
      // What the lower level found is a nail or nothing: it is bright next
      // to bone by construction, so brightness does not decide for it.
      const cv::Mat nail = component & candidates.nailShaped(box);
      const cv::Mat other = component & ~candidates.nailShaped(box);
      const bool hasOther = cv::countNonZero(other) > 0;
      const bool shaped = cv::countNonZero(other & candidates.implantShaped(box)) > 0;
      if (hasOther && (shaped || (percentile(image(box), other, 0.5) >= required &&
                                  !cortexBesideImplant(other, box)))) {
        metal(box).setTo(255, other);
        ++added;
      } else if (hasOther) {
        // Its parts may be metal still: a screw head joined to a faint plate.
        // (Worked in the box grown by two rings, so the ring around a part
        // at the box's border is measured too.)
        const int ring = ringWidth(image);
        const cv::Rect grown = grownWithin(box, 2 * ring, image.size());
        cv::Mat otherGrown = cv::Mat::zeros(grown.size(), CV_8U);
        otherGrown(box - grown.tl()).setTo(255, other);
        const cv::Mat cores =
            saturatedCores(image(grown), otherGrown, required, boneLevel - softLevel, ring, p);
        if (cv::countNonZero(cores) > 0) {
          metal(grown).setTo(255, cores);
          ++added;
        }
      }
      if (cv::countNonZero(nail) > 0) {
        // The band beside the nail reaches beyond its box.
        cv::Mat wholeNail = cv::Mat::zeros(image.size(), CV_8U);
        wholeNail(box).setTo(255, nail);
        if (boneBeside(wholeNail, plainBone) >= p.nailMinBoneBeside) {
          metal(box).setTo(255, nail);
          ++added;
        }
      }
    }
    if (added == 0) {
      break;
    }
  }
  addMetalRim(metal);
  return metal;
}

} // namespace unionscope::radiograph
