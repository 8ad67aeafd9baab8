// conv2d building block: im2col of one image into a [Cin·kh·kw, columns] tile of output pixels
// [p0, p0 + columns), zero outside the padded input. The product with the weights [Cout, Cin·kh·kw] is
// a cuBLAS SGEMM the backend issues per tile, so scratch stays bounded whatever the image size.
#pragma once

#include <cstdint>

#include "tessera/kernels/device.cuh"

namespace tessera::kernels {

struct Conv2dShape {
    int64_t cin = 0, h = 0, w = 0; // one input image [cin, h, w]
    int64_t kh = 0, kw = 0;
    int stride = 1, pad = 0;
    int64_t ho = 0, wo = 0; // output size
};

// x: one image; col: [cin·kh·kw, columns] f32.
KernelStatus im2colTile(const float* x, const Conv2dShape& s, int64_t p0, int64_t columns, float* col, void* stream);

} // namespace tessera::kernels
