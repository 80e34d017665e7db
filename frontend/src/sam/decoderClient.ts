/**
 * The page's facade over the decoder worker: requests matched to replies by id, and a latest-wins
 * gate so bursts (hover, fast clicks) never queue more than one decoder run behind the one running.
 */
import type { Prompt } from "./feeds";
import type { DecodeResult, ResultFor, WorkerRequest, WorkerResponse } from "./messages";

type Pending = { resolve: (value: WorkerResponse) => void; reject: (error: Error) => void };
type WithoutId<T> = T extends unknown ? Omit<T, "id"> : never;

export class DecoderError extends Error {
  override name = "DecoderError";
}

/** A decode request replaced by a newer one before it ran. */
export class Superseded extends Error {
  override name = "Superseded";
}

export class DecoderClient {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private running = false;
  private queued: { key: string; prompt: Prompt; previousLowRes: Float32Array | null; pending: Pending } | null = null;

  constructor(private readonly worker: Worker) {
    worker.onmessage = (event: MessageEvent<WorkerResponse>) => this.settle(event.data);
    worker.onerror = (event: ErrorEvent) => {
      const error = new DecoderError(`decoder worker failed: ${event.message || "unknown error"}`);
      for (const waiting of this.pending.values()) {
        waiting.reject(error);
      }
      this.pending.clear();
    };
  }

  request<T extends WorkerRequest["type"]>(
    message: WithoutId<Extract<WorkerRequest, { type: T }>>,
    transfer: Transferable[] = [],
  ): Promise<ResultFor<T>> {
    const id = this.nextId++;
    return new Promise<WorkerResponse>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ ...message, id }, transfer);
    }) as Promise<ResultFor<T>>;
  }

  /** Decode, or replace the one waiting decode (which then rejects with Superseded). */
  decode(key: string, prompt: Prompt, previousLowRes: Float32Array | null): Promise<DecodeResult> {
    return new Promise<DecodeResult>((resolve, reject) => {
      const pending: Pending = { resolve: (value) => resolve(value as DecodeResult), reject };
      if (!this.running) {
        this.start(key, prompt, previousLowRes, pending);
        return;
      }
      this.queued?.pending.reject(new Superseded("a newer prompt replaced this one"));
      this.queued = { key, prompt, previousLowRes, pending };
    });
  }

  private start(key: string, prompt: Prompt, previousLowRes: Float32Array | null, pending: Pending): void {
    this.running = true;
    // The low-res mask is copied, not transferred: the page keeps it for the next refinement.
    this.request<"decode">({ type: "decode", key, prompt, previousLowRes: previousLowRes?.slice() ?? null })
      .then(pending.resolve, pending.reject)
      .finally(() => {
        this.running = false;
        const next = this.queued;
        this.queued = null;
        if (next !== null) {
          this.start(next.key, next.prompt, next.previousLowRes, next.pending);
        }
      });
  }

  private settle(response: WorkerResponse): void {
    const waiting = this.pending.get(response.id);
    if (waiting === undefined) {
      return;
    }
    this.pending.delete(response.id);
    if (response.type === "error") {
      waiting.reject(new DecoderError(response.message));
    } else {
      waiting.resolve(response);
    }
  }
}
