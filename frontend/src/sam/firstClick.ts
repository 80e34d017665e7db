/**
 * The manifest's "first_click" entry (segmentation/api/views.py): the per-image prep graph and the
 * first-click decoders, absent (null) for models registered by an older export version.
 */
export interface FirstClickEntry {
  readonly prep: { readonly url: string };
  readonly fp32?: { readonly url: string };
  readonly int8?: { readonly url: string };
}

/** The prep + first-click decoder URLs for this variant, or null when the manifest has none. */
export function firstClickUrls(manifest: object, variant: string): { prepUrl: string; decoderUrl: string } | null {
  const entry = (manifest as { first_click?: FirstClickEntry | null }).first_click;
  if (entry === undefined || entry === null) {
    return null;
  }
  const decoder = variant === "fp32" ? entry.fp32 : entry.int8;
  return decoder === undefined ? null : { prepUrl: entry.prep.url, decoderUrl: decoder.url };
}
