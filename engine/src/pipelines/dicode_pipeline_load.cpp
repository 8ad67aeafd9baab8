// DicodePipeline::load over the real decoder side: DicodeDecoder behind the pipeline's clip-decoder
// interface. Kept apart from the pipeline so that the pipeline's order of work can be tested with any
// clip decoder.
#include "tessera/engine/dicode_decoder.h"
#include "tessera/engine/dicode_pipeline.h"

namespace tessera {

namespace {

class DecoderClips final : public DicodeClipDecoder {
public:
    explicit DecoderClips(std::unique_ptr<DicodeDecoder> d) : d_(std::move(d)) {}
    int64_t framesPerClip() const override { return d_->frames(); }
    int64_t contextDim() const override { return d_->contextDim(); }
    Expected<DicodeFrames> decodeClip(const std::vector<float>& a, const std::vector<float>& b,
                                      const std::vector<float>& text, const std::vector<float>& uc,
                                      const DicodeDecodeOptions& options,
                                      const DicodeCallbacks& callbacks) const override {
        auto clip = d_->decodeClip(a, b, text, uc, options, callbacks);
        if (!clip) return clip.status();
        return std::move(clip->frames);
    }

private:
    std::unique_ptr<DicodeDecoder> d_;
};

} // namespace

Expected<std::unique_ptr<DicodePipeline>> DicodePipeline::load(const std::string& dir, Backend& backend) {
    auto decoder = DicodeDecoder::load(dir, backend);
    if (!decoder) return decoder.status();
    return load(dir, backend, std::make_unique<DecoderClips>(std::move(*decoder)));
}

} // namespace tessera
