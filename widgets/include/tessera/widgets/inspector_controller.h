// InspectorController: fills the CellInspector for the cell the mosaic selected, asks the generator
// for decoded patches of the alternatives when that is cheap, and turns "Branch from here" into a
// child generation.
//
// Thread affinity: GUI thread only; decodes run as scheduler jobs.
#pragma once

#include <QObject>
#include <cstdint>

namespace tessera::widgets {

class CellInspector;
class StudioController;
struct Generation;

class InspectorController : public QObject {
    Q_OBJECT
public:
    InspectorController(StudioController* studio, CellInspector* view, QObject* parent = nullptr);
    // `image`: which picture of a batch the cell belongs to (0 = the first).
    void inspect(int64_t id, int position, int image = 0);
    int image() const { return image_; }
    int64_t generationId() const { return id_; }
    int position() const { return position_; }
    // The window side (1, 2 or 4) of a generation's decode order: Token-Shuffle samples s×s windows.
    static int windowSide(const Generation& g, int image);
    // Largest grid for which alternatives are decoded to patches (one decode each).
    static constexpr int kMaxCellsForPatches = 1024;

signals:
    void branched(qint64 child_id);

private:
    void requestPatches();
    StudioController* studio_;
    CellInspector* view_;
    int64_t id_ = 0;
    int position_ = -1;
    int image_ = 0;
    int request_ = 0; // drops patches of an earlier selection
};

} // namespace tessera::widgets
