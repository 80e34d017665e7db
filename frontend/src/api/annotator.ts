/** Typed calls the annotator page makes (paths as in annotator/api/urls.py and segmentation/api/urls.py). */
import type { Polygons } from "../geometry/maskToPolygons";
import type { Rle } from "../geometry/rle";
import { ApiError, requestJson } from "./http";
import type { components } from "./schema";

type Schemas = components["schemas"];

/** An annotation as the API returns it (the fields the page uses; shapes from the OpenAPI schema). */
export type ServerAnnotation = Pick<
  Schemas["Annotation"],
  | "id"
  | "label_class"
  | "polygons"
  | "source"
  | "prompts"
  | "time_spent_ms"
  | "click_count"
  | "version"
  | "author"
  | "author_name"
  /** Review state (docs/review.md): draft | submitted | approved | rejected. */
  | "status"
  | "review_comment"
  | "edited_after_sam"
> &
  // Box annotations and the effort counts (optional: older fixtures and copies lack them).
  Partial<Pick<Schemas["Annotation"], "kind" | "bbox" | "rle" | "vertex_count" | "stroke_count">> &
  // Slice propagation (tools/series.ts): a draft still to accept, and its seed.
  Partial<Pick<Schemas["Annotation"], "proposed" | "propagated_from">>;

/** The annotator page's config (annotator/api/page_config.py), embedded in the page as JSON. */
export type AnnotatePageConfig = Schemas["AnnotatePageConfig"];

export interface AnnotationWrite {
  readonly label_class: number;
  /** A mask as polygons (the server rasterises them), or as `rle` (the mask of record, e.g. brushed). */
  readonly polygons?: Polygons;
  readonly rle?: Rle;
  /** "box": give `bbox` [x, y, width, height] instead of polygons. */
  readonly kind?: "mask" | "box";
  readonly bbox?: readonly number[];
  readonly source?: string;
  readonly prompts?: Record<string, unknown>;
  readonly time_spent_ms?: number;
  readonly click_count?: number;
  readonly vertex_count?: number;
  readonly stroke_count?: number;
}

/** A reviewer's correction (PATCH): geometry and the prompts that made it, nothing that counts work. */
export interface AnnotationCorrection {
  readonly polygons: Polygons;
  readonly prompts?: Record<string, unknown>;
}

/** The project's SAM model and how to run its decoders (segmentation/api/manifest.py). */
export type ModelManifest = Schemas["ModelManifest"];

export type EmbeddingStatus = Pick<Schemas["EmbeddingStatus"], "status" | "error">;

export const listAnnotations = (imageId: number): Promise<ServerAnnotation[]> =>
  requestJson(`/api/images/${imageId}/annotations/`);


export const createAnnotation = (imageId: number, body: AnnotationWrite): Promise<ServerAnnotation> =>
  requestJson(`/api/images/${imageId}/annotations/`, { method: "POST", body: JSON.stringify(body) });

export const updateAnnotation = (
  id: number,
  version: number,
  body: Partial<AnnotationWrite> | AnnotationCorrection,
): Promise<ServerAnnotation> =>
  requestJson(`/api/annotations/${id}/`, { method: "PATCH", body: JSON.stringify({ ...body, version }) });

export async function deleteAnnotation(id: number): Promise<void> {
  try {
    await requestJson(`/api/annotations/${id}/`, { method: "DELETE" });
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 404)) {
      throw error; // already gone is what we wanted
    }
  }
}

export const projectModel = (projectId: number): Promise<ModelManifest> => requestJson(`/api/projects/${projectId}/model/`);

export const embeddingStatus = (imageId: number): Promise<EmbeddingStatus> =>
  requestJson(`/api/images/${imageId}/embedding/status/`);

/** The embedding file's bytes, or null while it is not ready (HTTP 409). */
export async function fetchEmbedding(imageId: number): Promise<{ buffer: ArrayBuffer; modelSha256: string } | null> {
  const response = await fetch(`/api/images/${imageId}/embedding/`, { credentials: "same-origin" });
  if (response.status === 409) {
    return null;
  }
  if (!response.ok) {
    throw new ApiError(response.status, null);
  }
  return { buffer: await response.arrayBuffer(), modelSha256: response.headers.get("X-Model-Sha256") ?? "" };
}
