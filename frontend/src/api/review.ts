/** Typed calls of the review workflow (paths as in annotator/api/urls.py; rules in docs/review.md). */
import type { ServerAnnotation } from "./annotator";
import { requestJson } from "./http";
import type { components } from "./schema";

type Schemas = components["schemas"];

export type ImageReviewStatus = Schemas["ImageReviewStatusEnum"];

/** What the submit and review endpoints answer for an image (also part of GET /api/images/<id>/). */
export type ImageReviewState = Pick<Schemas["QueueImage"], "id" | "review_status" | "review_comment">;

export type ReviewDecision = Schemas["Review"];

export const submitImage = (imageId: number): Promise<ImageReviewState> =>
  requestJson(`/api/images/${imageId}/submit/`, { method: "POST" });

/** An image-level decision: reject_rest (with approve false) also rejects the undecided annotations. */
export type ImageReviewDecision = Schemas["ImageReview"];

export const reviewImage = (imageId: number, decision: ImageReviewDecision): Promise<ImageReviewState> =>
  requestJson(`/api/images/${imageId}/review/`, { method: "POST", body: JSON.stringify(decision) });

export const reviewAnnotation = (annotationId: number, decision: ReviewDecision): Promise<ServerAnnotation> =>
  requestJson(`/api/annotations/${annotationId}/review/`, { method: "POST", body: JSON.stringify(decision) });

/** The image's review state as it is now (after a per-annotation review may have settled it). */
export const imageReviewState = (imageId: number): Promise<ImageReviewState> => requestJson(`/api/images/${imageId}/`);
