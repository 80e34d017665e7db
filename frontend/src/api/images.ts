/** The project's images for the annotator's image list (GET /api/projects/<id>/images/). */
import { requestJson } from "./http";
import type { components } from "./schema";

export type ImageRow = Pick<components["schemas"]["Image"], "id" | "original_name" | "review_status" | "annotation_count" | "annotate_url">;

/** The first `pageSize` images of the project, in the project's order (the order Prev / Next follow). */
export async function listProjectImages(projectId: number, pageSize = 200): Promise<{ rows: ImageRow[]; total: number }> {
  const page = await requestJson<components["schemas"]["PaginatedImageList"]>(
    `/api/projects/${projectId}/images/?page_size=${pageSize}`,
  );
  return { rows: page.results, total: page.count };
}
