/**
 * One click-to-segment session: the prompts so far, the decoder's latest outputs, which candidate is
 * shown, and the low-res logits fed back on the next click. Pure state + the decoder facade; the
 * canvas and keyboard live elsewhere.
 */
import type { DecoderClient } from "./decoderClient";
import { Superseded } from "./decoderClient";
import {
  EMPTY_PROMPT,
  cycleCandidates,
  isEmptyPrompt,
  officialMaskIndex,
  promptPointCount,
  type Box,
  type Prompt,
  type PromptPoint,
} from "./feeds";
import type { DecodeResult } from "./messages";
import { upscaleCandidate, upscalePlan, type UpscalePlan } from "./upscale";

export interface ShownMask {
  readonly mask: Uint8Array; // width × height, 1 = inside
  readonly width: number;
  readonly height: number;
  readonly index: number;
  readonly iou: number;
  readonly candidates: readonly number[];
}

/**
 * What an accept commits: the mask decoded for exactly this prompt, with the click count and start
 * time of the same session, taken together so that they always belong to one another.
 */
export interface SettledMask {
  readonly shown: ShownMask;
  readonly prompt: Prompt;
  readonly clickCount: number;
  readonly startedAt: number;
}

/** A click within this many image pixels of the hover point uses the hover's decode. */
export const HOVER_MATCH_PX = 0.75;

interface HoverRequest {
  readonly point: PromptPoint;
  readonly prompt: Prompt;
  /** `SamSession.base` and `epoch` when asked: the previous mask and the session it was decoded on. */
  readonly base: number;
  readonly epoch: number;
}

interface HoverJob extends HoverRequest {
  result: DecodeResult | null;
  done: boolean;
  promise: Promise<DecodeResult | null>;
}

export class SamSession {
  prompt: Prompt = EMPTY_PROMPT;
  result: DecodeResult | null = null;
  /** The prompt `result` was decoded for: an older one while a newer click is still decoding. */
  resultPrompt: Prompt | null = null;
  shownIndex = 0;
  hover: ShownMask | null = null;
  startedAt = 0;
  clickCount = 0;
  private generation = 0;
  /** Bumped by cancel/restore: decodes and accepts of an earlier session stop there. */
  private epoch = 0;
  /**
   * The decode of the latest prompt, chained after the one before it (never rejects). Clicks decode
   * one after another, each fed the low-res logits of the previous prompt's mask, so that a quick
   * click, click gives exactly the mask that clicking slowly gives.
   */
  private pending: Promise<void> | null = null;
  /** Bumped whenever `result` or `shownIndex` changes: hover decodes made on another base are stale. */
  private base = 0;
  /** The latest hover decode started (in flight or landed); at most one is waiting behind it. */
  private hoverJob: HoverJob | null = null;
  private hoverNext: HoverRequest | null = null;
  /** The mask shown came from a hover decode done before the click (zero-wait click). */
  fromHover = false;

  constructor(
    private readonly decoder: () => DecoderClient | null,
    private readonly embeddingKey: () => string | null,
    private readonly onChange: () => void,
    private readonly onError: (message: string) => void,
  ) {}

  get active(): boolean {
    return !isEmptyPrompt(this.prompt);
  }

  get shown(): ShownMask | null {
    return this.result === null || this.resultPrompt === null
      ? null
      : maskOf(this.result, this.shownIndex, promptPointCount(this.resultPrompt));
  }

  /** True while the mask shown (if any) is not yet the one of the latest prompt. */
  get decoding(): boolean {
    return this.active && this.resultPrompt !== this.prompt;
  }

  /**
   * The mask of the latest prompt set, once it is decoded: waits for the decode in flight (and for
   * any click made meanwhile). Null when the session was cancelled or restarted meanwhile, or when
   * the decode failed (the error was reported).
   */
  async settled(): Promise<SettledMask | null> {
    const epoch = this.epoch;
    while (this.pending !== null && this.epoch === epoch) {
      await this.pending;
    }
    if (this.epoch !== epoch || !this.active || this.resultPrompt !== this.prompt) {
      return null;
    }
    const shown = this.shown;
    return shown === null
      ? null
      : { shown, prompt: this.prompt, clickCount: this.clickCount, startedAt: this.startedAt };
  }

  addPoint(point: PromptPoint): void {
    // The resting cursor's decode of exactly this prompt (same point, same previous mask), if any:
    // the click shows its mask at once (landed) or as soon as it lands (in flight), no second run.
    const ready = this.hoverFor(point);
    this.hoverNext = null; // a click supersedes the hover waiting to run
    this.begin();
    this.clickCount += 1;
    this.prompt = { points: [...this.prompt.points, ready?.point ?? point], box: this.prompt.box };
    void this.run(ready);
  }

  setBox(box: Box): void {
    this.begin();
    this.clickCount += 1;
    this.prompt = { points: this.prompt.points, box };
    void this.run();
  }

  /**
   * Reopen a stored session (review): the annotation's prompts, in image pixels, are decoded again so
   * that more clicks refine that mask. `maskIndex` is the candidate the annotator had accepted; it is
   * shown again when this prompt offers it. Resolves once the mask is shown (or the decode failed).
   */
  async restore(prompt: Prompt, maskIndex: number | null = null): Promise<void> {
    this.cancel();
    this.startedAt = performance.now();
    this.hover = null;
    this.prompt = prompt;
    await this.run();
    if (this.prompt === prompt && this.resultPrompt === prompt && this.result !== null && maskIndex !== null) {
      const candidates = cycleCandidates(this.result.outputCount, promptPointCount(prompt));
      if (candidates.includes(maskIndex)) {
        this.shownIndex = maskIndex;
        this.onChange();
      }
    }
  }

  /** Tab: the next (or previous) multimask candidate. */
  cycle(step: number): void {
    if (this.result === null) {
      return;
    }
    const candidates = cycleCandidates(this.result.outputCount, promptPointCount(this.resultPrompt ?? this.prompt));
    const at = candidates.indexOf(this.shownIndex);
    this.shownIndex = candidates[(at + step + candidates.length) % candidates.length] ?? this.shownIndex;
    this.base += 1; // another mask is fed back on the next click: hovers decoded on this one are stale
    this.onChange();
  }

  cancel(): void {
    this.generation += 1;
    this.epoch += 1;
    this.pending = null;
    this.prompt = EMPTY_PROMPT;
    this.result = null;
    this.resultPrompt = null;
    this.clickCount = 0;
    this.startedAt = 0;
    this.hoverJob = null;
    this.hoverNext = null;
    this.fromHover = false;
    this.onChange();
  }

  /**
   * The cursor rests at (x, y): decode what a click there would give, before the click. Without
   * prompts that is a first click (its mask is also shown as the hover preview); with prompts it is
   * the refinement "add a positive (negative) point here" with the current prompts and the shown
   * mask's low-res logits. Never more than one hover decode waits behind the one running (the
   * latest wins, older ones are dropped unrun); none starts while a click is decoding, so a hover
   * never replaces a click's decode in the decoder's queue.
   */
  hoverAt(x: number, y: number, positive = true): void {
    const decoder = this.decoder();
    const key = this.embeddingKey();
    if (decoder === null || key === null || this.pending !== null || this.decoding) {
      return;
    }
    const point = { x, y, positive };
    if (this.hoverJob !== null && this.matches(this.hoverJob, point)) {
      this.hoverNext = null; // back where the running one was asked: the waiting one is stale
      return;
    }
    const request: HoverRequest = {
      point, prompt: { points: [...this.prompt.points, point], box: this.prompt.box }, base: this.base, epoch: this.epoch,
    };
    if (this.hoverJob !== null && !this.hoverJob.done) {
      this.hoverNext = request; // replaces any older waiting hover: dropped without a run
      return;
    }
    this.startHover(decoder, key, request);
  }

  /** Is the mask for a click at the cursor (the latest hover asked) decoded already (tests)? */
  get hoverReady(): boolean {
    const job = this.hoverJob;
    return this.hoverNext === null && job !== null && job.result !== null && job.epoch === this.epoch && job.base === this.base;
  }

  private startHover(decoder: DecoderClient, key: string, request: HoverRequest): void {
    const previous = this.active && this.result !== null ? lowResOf(this.result, this.shownIndex) : null;
    const job: HoverJob = { ...request, result: null, done: false, promise: Promise.resolve(null) };
    job.promise = decoder.decode(key, request.prompt, previous).then(
      (result) => (job.result = result),
      (error: unknown) => {
        if (!(error instanceof Superseded) && request.epoch === this.epoch) {
          this.onError(`Preview failed: ${error instanceof Error ? error.message : String(error)}`);
        }
        return null;
      },
    ).finally(() => {
      job.done = true;
      this.afterHover(job);
    });
    this.hoverJob = job;
  }

  private afterHover(job: HoverJob): void {
    const current = job === this.hoverJob && job.epoch === this.epoch && job.base === this.base;
    if (current && job.result !== null) {
      if (!this.active) {
        this.hover = maskOf(job.result, officialMaskIndex(job.result.ious, 2), 2);
      }
      this.onChange();
    }
    const next = this.hoverNext;
    this.hoverNext = null;
    const decoder = this.decoder();
    const key = this.embeddingKey();
    if (next !== null && next.epoch === this.epoch && next.base === this.base && this.pending === null && !this.decoding &&
        decoder !== null && key !== null) {
      this.startHover(decoder, key, next);
    }
  }

  /** The hover decode a click at `point` can use: same session, same shown mask, same point. */
  private hoverFor(point: PromptPoint): HoverJob | null {
    const job = this.hoverJob;
    return job !== null && this.pending === null && !this.decoding && this.matches(job, point) ? job : null;
  }

  private matches(request: HoverRequest, point: PromptPoint): boolean {
    return request.epoch === this.epoch && request.base === this.base && request.point.positive === point.positive &&
      Math.abs(request.point.x - point.x) <= HOVER_MATCH_PX && Math.abs(request.point.y - point.y) <= HOVER_MATCH_PX;
  }

  clearHover(): void {
    if (this.hover !== null) {
      this.hover = null;
      this.onChange();
    }
  }

  private begin(): void {
    if (!this.active) {
      this.startedAt = performance.now();
      this.clickCount = 0;
    }
    this.hover = null;
  }

  /** Decode the latest prompt after the decode before it has landed (see `pending`). */
  private run(ready: HoverJob | null = null): Promise<void> {
    const decoder = this.decoder();
    const key = this.embeddingKey();
    if (decoder === null || key === null) {
      this.onError("The embedding or decoder is not ready yet: use the polygon tool meanwhile.");
      return Promise.resolve();
    }
    const generation = ++this.generation;
    const epoch = this.epoch;
    const prompt = this.prompt;
    const before = this.pending;
    const decode = async (): Promise<void> => {
      if (before !== null) {
        await before;
      }
      if (epoch !== this.epoch) {
        return; // cancelled meanwhile
      }
      // Refinement feeds back the low-res logits of the mask being shown (SAM's interactive loop):
      // the previous prompt's, since it has landed by now.
      const previous = this.result === null ? null : lowResOf(this.result, this.shownIndex);
      try {
        // Landed: no await at all, so the mask is drawn in the frame after the click.
        const early = ready === null ? null : (ready.result ?? (await ready.promise));
        const result = early ?? (await decoder.decode(key, prompt, previous));
        if (epoch !== this.epoch) {
          return;
        }
        this.result = result;
        this.resultPrompt = prompt;
        this.fromHover = early !== null;
        this.base += 1;
        this.shownIndex = officialMaskIndex(result.ious, promptPointCount(prompt));
        if (generation === this.generation) {
          this.onChange(); // intermediate masks of a quick click chain are not drawn
        }
      } catch (error) {
        if (!(error instanceof Superseded) && epoch === this.epoch) {
          this.onError(`Segmentation failed: ${error instanceof Error ? error.message : String(error)}`);
        }
      }
    };
    const run = decode();
    this.pending = run;
    void run.finally(() => {
      if (this.pending === run) {
        this.pending = null;
      }
    });
    return run;
  }
}

// The worker upscales only the candidate shown first (result.maskIndex); another one (Tab, a
// restored maskIndex) is upscaled here from its low-res logits once, when first shown.
const otherMasks = new WeakMap<DecodeResult, Map<number, Uint8Array>>();
let lastPlan: UpscalePlan | null = null;
let lastPlanInputSize = 0;

export function candidateMask(result: DecodeResult, index: number): Uint8Array {
  const { width, height, lowResSize, maskIndex, encoderInputSize } = result;
  if (maskIndex === undefined || encoderInputSize === undefined) {
    return result.masks.subarray(index * width * height, (index + 1) * width * height); // all K
  }
  if (index === maskIndex) {
    return result.masks;
  }
  let cached = otherMasks.get(result);
  if (cached === undefined) {
    cached = new Map();
    otherMasks.set(result, cached);
  }
  let mask = cached.get(index);
  if (mask === undefined) {
    if (lastPlan === null || lastPlan.width !== width || lastPlan.height !== height || lastPlan.size !== lowResSize ||
        lastPlanInputSize !== encoderInputSize) {
      lastPlan = upscalePlan(height, width, lowResSize, encoderInputSize);
      lastPlanInputSize = encoderInputSize;
    }
    mask = upscaleCandidate(result.lowRes, index, lastPlan);
    cached.set(index, mask);
  }
  return mask;
}

function maskOf(result: DecodeResult, index: number, pointCount: number): ShownMask {
  return {
    mask: candidateMask(result, index),
    width: result.width,
    height: result.height,
    index,
    iou: result.ious[index] ?? 0,
    candidates: cycleCandidates(result.outputCount, pointCount),
  };
}

function lowResOf(result: DecodeResult, index: number): Float32Array {
  const size = result.lowResSize * result.lowResSize;
  return result.lowRes.slice(index * size, (index + 1) * size);
}
