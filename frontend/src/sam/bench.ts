/**
 * Benchmark hook (bench/click_latency.py), inert unless the page was given `window.__samBench`:
 * per click the canvas pointerdown time and the time the frame that draws its mask has run, the
 * time the decoder became ready, and when the last in-page move to another image started.
 */
export interface BenchRecord {
  clicks: { start: number; drawn: number; decodeMs: number }[];
  ready: number | null;
  /** When the last in-page move to another image started (performance.now()). */
  navigationStart?: number;
}

export function benchRecord(): BenchRecord | undefined {
  return (window as unknown as { __samBench?: BenchRecord }).__samBench;
}
