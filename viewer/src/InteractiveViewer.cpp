#include "Scene.h"

#include <fmt/format.h>
#include <vtkActor.h>
#include <vtkBillboardTextActor3D.h>
#include <vtkCallbackCommand.h>
#include <vtkInteractorStyleTrackballCamera.h>
#include <vtkObjectFactory.h>
#include <vtkProperty2D.h>
#include <vtkRenderWindow.h>
#include <vtkRenderWindowInteractor.h>
#include <vtkRenderer.h>
#include <vtkSliderRepresentation2D.h>
#include <vtkSliderWidget.h>
#include <vtkTextActor.h>
#include <vtkTextProperty.h>

#include <cmath>

namespace unionscope::viewer {
namespace {

struct ViewerState {
  const AnalysedPatient* patient = nullptr;
  detail::Scene* scene = nullptr;
  ReaderRead* read = nullptr;
  const SignRead* sign = nullptr;
  std::size_t visit = 0;
  std::size_t cortex = 0;
  bool help = false;
  vtkTextActor* form = nullptr;
  vtkTextActor* helpText = nullptr;
  vtkSliderRepresentation2D* slider = nullptr;
  std::string status;
};

std::string categoryText(const std::optional<int>& category) {
  return category ? std::to_string(*category) : std::string("n/a");
}

/// Arcs and captions after a change: the read's categories when reading,
/// the selected visit's caption highlighted.
void refresh(ViewerState& state) {
  detail::Scene& scene = *state.scene;
  for (std::size_t v = 0; v < scene.visits.size(); ++v) {
    detail::VisitScene& visit = scene.visits[v];
    const bool current = v == state.visit;
    visit.caption->GetTextProperty()->SetColor(current ? 1.0 : 0.85, current ? 0.9 : 0.85,
                                               current ? 0.3 : 0.85);
    for (std::size_t c = 0; c < 4; ++c) {
      const bool selected = state.read != nullptr && current && c == state.cortex;
      if (state.read != nullptr && v < state.read->visits.size()) {
        const CortexRead& r = state.read->visits[v].cortices[c];
        detail::setArcCategory(visit.arcs[c], r.reader, r.changed(), selected);
      } else {
        detail::setArcCategory(visit.arcs[c], state.patient->visits[v].cortices[c].category, false,
                               false);
      }
    }
  }
  if (state.form != nullptr) {
    std::string text;
    if (state.read != nullptr && state.visit < state.read->visits.size()) {
      const VisitRead& v = state.read->visits[state.visit];
      text = fmt::format("Read by {}: visit {}\n", state.read->reader, v.label);
      for (Cortex cortex : kAllCortices) {
        const auto c = static_cast<std::size_t>(cortex);
        const CortexRead& r = v.cortices[c];
        text +=
            fmt::format("{} {:<9} algorithm {:>3}  reader {:>3}  {}\n",
                        c == state.cortex ? ">" : " ", cortexKey(cortex), categoryText(r.algorithm),
                        categoryText(r.reader), r.changed() ? "changed" : "accepted");
      }
      text += "Up/Down cortex, 1-4 category, 0 n/a, b back to the algorithm's, S sign\n";
    } else {
      text = "View only (sign a read: unionscope view DIR --reader NAME)\n";
    }
    text += state.status;
    state.form->SetInput(text.c_str());
  }
  if (state.helpText != nullptr) {
    state.helpText->SetVisibility(state.help);
  }
  if (scene.layout == Layout::Slider) {
    detail::showVisit(scene, state.visit);
    if (state.slider != nullptr) {
      state.slider->SetValue(static_cast<double>(state.visit));
    }
  }
  scene.window->Render();
}

class ViewerStyle : public vtkInteractorStyleTrackballCamera {
public:
  static ViewerStyle* New();
  vtkTypeMacro(ViewerStyle, vtkInteractorStyleTrackballCamera) ViewerState* state = nullptr;

  void OnKeyPress() override {
    const std::string key = this->Interactor->GetKeySym() ? this->Interactor->GetKeySym() : "";
    const std::size_t visits = state->scene->visits.size();
    if (key == "Left" && state->visit > 0) {
      --state->visit;
    } else if (key == "Right" && state->visit + 1 < visits) {
      ++state->visit;
    } else if (key == "Up") {
      state->cortex = (state->cortex + 3) % 4;
    } else if (key == "Down") {
      state->cortex = (state->cortex + 1) % 4;
    } else {
      vtkInteractorStyleTrackballCamera::OnKeyPress();
      return;
    }
    refresh(*state);
  }

  void OnChar() override {
    const char key = this->Interactor->GetKeyCode();
    ReaderRead* read = state->read;
    CortexRead* cortex = read != nullptr && state->visit < read->visits.size()
                             ? &read->visits[state->visit].cortices[state->cortex]
                             : nullptr;
    if (key >= '0' && key <= '4') {
      if (cortex != nullptr) {
        cortex->reader = key == '0' ? std::nullopt : std::optional<int>(key - '0');
        state->status.clear();
      }
    } else if (key == 'b') {
      if (cortex != nullptr) {
        cortex->reader = cortex->algorithm;
      }
    } else if (key == 'S') {
      if (read != nullptr && state->sign != nullptr) {
        state->status = (*state->sign)(*read);
      }
    } else if (key == 'h') {
      state->help = !state->help;
    } else {
      vtkInteractorStyleTrackballCamera::OnChar(); // r, w, s, f, e, q ... as VTK users expect
      return;
    }
    refresh(*state);
  }
};
vtkStandardNewMacro(ViewerStyle)

    void onSlider(vtkObject* caller, unsigned long /*event*/, void* clientData,
                  void* /*callData*/) {
  auto* state = static_cast<ViewerState*>(clientData);
  auto* widget = static_cast<vtkSliderWidget*>(caller);
  const double value =
      static_cast<vtkSliderRepresentation2D*>(widget->GetRepresentation())->GetValue();
  state->visit = static_cast<std::size_t>(std::lround(value));
  refresh(*state);
}

} // namespace

std::string keyHelp() {
  return "Mouse: left drag rotate, middle drag (or Shift+left) pan, right drag or wheel zoom, "
         "Ctrl+left spin (VTK trackball camera).\n"
         "Keys: Left/Right visit, r reset camera, w wireframe, s surfaces, f fly to point, "
         "h help, q or e quit.\n"
         "Reading (view DIR --reader NAME): Up/Down cortex, 1-4 set its category, 0 not "
         "assessable, b back to the algorithm's, S sign and save to DIR/reads/.";
}

void runInteractiveViewer(const AnalysedPatient& patient, const SceneOptions& options,
                          ReaderRead* read, const SignRead& sign) {
  detail::Scene scene = detail::buildScene(patient, options, false);
  ViewerState state;
  state.patient = &patient;
  state.scene = &scene;
  state.read = read;
  state.sign = &sign;
  state.visit = scene.layout == Layout::Slider
                    ? scene.shownVisit
                    : (scene.visits.empty() ? 0 : scene.visits.size() - 1);

  // Overlay layer: the read form and the help, over every viewport.
  vtkNew<vtkRenderer> overlay;
  overlay->SetLayer(1);
  overlay->InteractiveOff();
  overlay->SetViewport(0, 0, 1, 1);
  scene.window->SetNumberOfLayers(2);
  scene.window->AddRenderer(overlay);
  vtkNew<vtkTextActor> form;
  form->GetTextProperty()->SetFontFamilyToCourier();
  form->GetTextProperty()->SetFontSize(14);
  form->GetTextProperty()->SetColor(1, 1, 1);
  form->GetTextProperty()->SetBackgroundColor(0, 0, 0);
  form->GetTextProperty()->SetBackgroundOpacity(0.55);
  form->GetTextProperty()->SetVerticalJustificationToTop();
  form->GetPositionCoordinate()->SetCoordinateSystemToNormalizedViewport();
  form->GetPositionCoordinate()->SetValue(0.62, 0.985);
  overlay->AddActor2D(form);
  state.form = form;
  vtkNew<vtkTextActor> help;
  help->SetInput(keyHelp().c_str());
  help->GetTextProperty()->SetFontSize(14);
  help->GetTextProperty()->SetBackgroundColor(0, 0, 0);
  help->GetTextProperty()->SetBackgroundOpacity(0.7);
  help->GetPositionCoordinate()->SetCoordinateSystemToNormalizedViewport();
  help->GetPositionCoordinate()->SetValue(0.02, 0.5);
  overlay->AddActor2D(help);
  state.helpText = help;

  vtkNew<vtkRenderWindowInteractor> interactor;
  interactor->SetRenderWindow(scene.window);
  vtkNew<ViewerStyle> style;
  style->state = &state;
  interactor->SetInteractorStyle(style);

  vtkNew<vtkSliderRepresentation2D> sliderRep;
  vtkNew<vtkSliderWidget> slider;
  if (scene.layout == Layout::Slider && scene.visits.size() > 1) {
    sliderRep->SetMinimumValue(0);
    sliderRep->SetMaximumValue(static_cast<double>(scene.visits.size() - 1));
    sliderRep->SetValue(static_cast<double>(state.visit));
    sliderRep->SetTitleText("visit");
    sliderRep->GetPoint1Coordinate()->SetCoordinateSystemToNormalizedDisplay();
    sliderRep->GetPoint1Coordinate()->SetValue(0.3, scene.panel2d ? 0.39 : 0.06);
    sliderRep->GetPoint2Coordinate()->SetCoordinateSystemToNormalizedDisplay();
    sliderRep->GetPoint2Coordinate()->SetValue(0.7, scene.panel2d ? 0.39 : 0.06);
    sliderRep->SetLabelFormat("%.0f");
    slider->SetInteractor(interactor);
    slider->SetRepresentation(sliderRep);
    slider->SetAnimationModeToJump();
    slider->SetDefaultRenderer(scene.renderers3d.front());
    vtkNew<vtkCallbackCommand> callback;
    callback->SetCallback(onSlider);
    callback->SetClientData(&state);
    slider->AddObserver(vtkCommand::InteractionEvent, callback);
    slider->EnabledOn();
    state.slider = sliderRep;
  }
  interactor->Initialize();
  refresh(state);
  if (!options.keys.empty()) {
    // As the window system would deliver them: key press, character, release.
    for (const std::string& key : options.keys) {
      const char code = key.size() == 1 ? key.front() : '\0';
      interactor->SetKeyEventInformation(0, 0, code, 1, key.c_str());
      interactor->InvokeEvent(vtkCommand::KeyPressEvent, nullptr);
      if (code != '\0') {
        interactor->InvokeEvent(vtkCommand::CharEvent, nullptr);
      }
      interactor->InvokeEvent(vtkCommand::KeyReleaseEvent, nullptr);
    }
    scene.window->Finalize();
    return;
  }
  interactor->Start();
}

} // namespace unionscope::viewer
