/**
 * Low-res logits (K × m × m) → masks at the image size, outside the decoder graph: the exported
 * graph returns only the 256×256 logits, and this does what the plain export's in-graph upscaling
 * did (bilinear to the encoder's square, crop the padding, bilinear to the image), fused with the
 * threshold, as one separable pass of 4 taps per axis. Mirrors upscale_low_res in
 * segmentation/sam/onnx_decoder.py, whose tests check it against the plain export.
 */

export interface AxisTaps {
  /** count × 4 low-res indices */
  readonly index: Int32Array;
  /** count × 4 weights */
  readonly weight: Float32Array;
}

/** PyTorch's bilinear (align_corners=False) along one axis, input cropped to its first `limit`. */
function linear(outCount: number, inCount: number, limit = inCount): { lower: Int32Array; upper: Int32Array; frac: Float64Array } {
  const lower = new Int32Array(outCount);
  const upper = new Int32Array(outCount);
  const frac = new Float64Array(outCount);
  const scale = limit / outCount;
  for (let i = 0; i < outCount; i += 1) {
    const source = Math.max((i + 0.5) * scale - 0.5, 0);
    const low = Math.floor(source);
    lower[i] = low;
    upper[i] = Math.min(low + 1, limit - 1);
    frac[i] = source - low;
  }
  return { lower, upper, frac };
}

export function upscaleTaps(outCount: number, prepadded: number, size: number, imgSize: number): AxisTaps {
  const big = linear(outCount, imgSize, prepadded);
  const small = linear(imgSize, size);
  const index = new Int32Array(outCount * 4);
  const weight = new Float32Array(outCount * 4);
  for (let i = 0; i < outCount; i += 1) {
    const corners: [number, number][] = [
      [big.lower[i]!, 1 - big.frac[i]!],
      [big.upper[i]!, big.frac[i]!],
    ];
    corners.forEach(([at, w], c) => {
      index[i * 4 + 2 * c] = small.lower[at]!;
      index[i * 4 + 2 * c + 1] = small.upper[at]!;
      weight[i * 4 + 2 * c] = w * (1 - small.frac[at]!);
      weight[i * 4 + 2 * c + 1] = w * small.frac[at]!;
    });
  }
  return { index, weight };
}

export interface UpscalePlan {
  readonly height: number;
  readonly width: number;
  readonly size: number;
  readonly rows: AxisTaps;
  readonly cols: AxisTaps;
}

/** The taps for one image size (computed once per image, reused by every click). */
export function upscalePlan(height: number, width: number, size: number, imgSize: number): UpscalePlan {
  const scale = imgSize / Math.max(height, width);
  return {
    height,
    width,
    size,
    rows: upscaleTaps(height, Math.floor(height * scale + 0.5), size, imgSize),
    cols: upscaleTaps(width, Math.floor(width * scale + 0.5), size, imgSize),
  };
}

/** K low-res logit maps → K × height × width masks (1 where the upscaled logit > 0). */
export function upscaleThreshold(lowRes: Float32Array, count: number, plan: UpscalePlan): Uint8Array {
  const { height, width, size, rows, cols } = plan;
  const plane = size * size;
  const out = new Uint8Array(count * height * width);
  const row = new Float32Array(size);
  for (let k = 0; k < count; k += 1) {
    const base = k * plane;
    for (let y = 0; y < height; y += 1) {
      const t = y * 4;
      const r0 = base + rows.index[t]! * size;
      const r1 = base + rows.index[t + 1]! * size;
      const r2 = base + rows.index[t + 2]! * size;
      const r3 = base + rows.index[t + 3]! * size;
      const w0 = rows.weight[t]!;
      const w1 = rows.weight[t + 1]!;
      const w2 = rows.weight[t + 2]!;
      const w3 = rows.weight[t + 3]!;
      for (let c = 0; c < size; c += 1) {
        row[c] = w0 * lowRes[r0 + c]! + w1 * lowRes[r1 + c]! + w2 * lowRes[r2 + c]! + w3 * lowRes[r3 + c]!;
      }
      const line = (k * height + y) * width;
      for (let x = 0; x < width; x += 1) {
        const s = x * 4;
        const v =
          cols.weight[s]! * row[cols.index[s]!]! +
          cols.weight[s + 1]! * row[cols.index[s + 1]!]! +
          cols.weight[s + 2]! * row[cols.index[s + 2]!]! +
          cols.weight[s + 3]! * row[cols.index[s + 3]!]!;
        out[line + x] = v > 0 ? 1 : 0;
      }
    }
  }
  return out;
}

/** One candidate (index k of the K low-res maps) → height × width mask: what a click shows. */
export function upscaleCandidate(lowRes: Float32Array, index: number, plan: UpscalePlan): Uint8Array {
  const plane = plan.size * plan.size;
  return upscaleThreshold(lowRes.subarray(index * plane, (index + 1) * plane), 1, plan);
}
