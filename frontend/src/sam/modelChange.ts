/**
 * Which model's decoder the page runs, and what must change when the project's model changes while
 * the tab is open (a fine-tuned version promoted, a roll back): the page re-fetches the manifest on
 * every in-place move (main.ts) and compares it with the model the worker was last given.
 *
 * Two identities matter (docs/models.md "Fine-tuning"):
 * - the ENCODER's sha256 says which embeddings fit: a fine-tuned version shares its parent's encoder,
 *   so every stored embedding stays valid (the embedding's X-Model-Sha256 header names it);
 * - the MODEL id says which decoder graphs run. The worker's per-image entries hold the "prep"
 *   graph's outputs, which depend on the decoder's weights, so they belong to one model: the keys
 *   name the model, and entries of another model are never reused.
 */

/** The manifest's "model" entry (segmentation/api/manifest.py); encoder_sha256 since issue 12. */
export interface ManifestModelInfo {
  readonly id: number;
  readonly name: string;
  readonly checkpoint_sha256: string;
  readonly encoder_sha256?: string | null;
}

/** The sha256 of the encoder that made the embeddings this model's decoders read. */
export function encoderSha256(model: ManifestModelInfo): string {
  // Manifests from before fine-tuning have no encoder field: the checkpoint is the encoder then.
  return model.encoder_sha256 || model.checkpoint_sha256;
}

/** What the decoder worker was told at init: the key part that ties its entries to one model. */
export function modelTag(model: ManifestModelInfo): string {
  return `${model.id}:${encoderSha256(model)}`;
}

/** The worker's key of one image's embedding (with this model's prep outputs). */
export function embeddingKey(imageId: number, model: ManifestModelInfo): string {
  return `${imageId}:${modelTag(model)}`;
}

/**
 * Whether an embedding file (its X-Model-Sha256 header; empty when the server sent none) can be read
 * by this model's decoders: made by the same encoder.
 */
export function embeddingFits(headerSha256: string, model: ManifestModelInfo): boolean {
  return headerSha256 === "" || headerSha256 === encoderSha256(model);
}

/** What moving to an image under `next` needs, given the model the tab ran before (null: none yet). */
export interface ModelSwitch {
  /** Another model than the one before: its graphs are loaded into the worker before the next click. */
  readonly changed: boolean;
  /** Keys believed to be in the worker that belong to another model: forget them. */
  readonly staleKeys: readonly string[];
}

export function modelSwitch(previous: ManifestModelInfo | null, next: ManifestModelInfo, keys: Iterable<string>): ModelSwitch {
  const changed = previous !== null && modelTag(previous) !== modelTag(next);
  const tag = modelTag(next);
  // A key is "<image id>:<model tag>" (embeddingKey).
  const staleKeys = [...keys].filter((key) => key.slice(key.indexOf(":") + 1) !== tag);
  return { changed, staleKeys };
}
