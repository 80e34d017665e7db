/**
 * The side panel's image list: the project's images with their review status and annotation
 * count, the open one marked; a click opens that image in place. Fetched after the image is shown
 * (it never delays the first mask).
 */
import { listProjectImages, type ImageRow } from "../api/images";

export function showImageList(list: HTMLElement, projectId: number, currentId: number, open: (url: string) => void, signal: AbortSignal): void {
  const load = (): void => {
    listProjectImages(projectId).then(({ rows, total }) => {
      if (!signal.aborted) {
        list.replaceChildren(...rows.map((row) => item(row, row.id === currentId, open)));
        if (total > rows.length) {
          const more = document.createElement("li");
          more.className = "more";
          more.textContent = `… ${total - rows.length} more on the project page`;
          list.append(more);
        }
        list.dataset["loaded"] = "true";
        list.querySelector(".current")?.scrollIntoView({ block: "nearest" });
      }
    }, () => undefined); // the list is a convenience: Prev / Next still work
  };
  setTimeout(load, 300);
}

function item(row: ImageRow, current: boolean, open: (url: string) => void): HTMLLIElement {
  const li = document.createElement("li");
  li.dataset["imageId"] = String(row.id);
  li.dataset["status"] = row.review_status ?? "new";
  li.classList.toggle("current", current);
  li.title = row.original_name;
  const status = document.createElement("span");
  status.className = "badge review-state";
  status.dataset["status"] = row.review_status ?? "new";
  status.textContent = row.review_status ?? "new";
  const count = row.annotation_count ?? 0;
  li.append(row.original_name, status, ` ${count} obj`);
  const url = row.annotate_url;
  if (!current && url !== null) {
    li.addEventListener("click", () => open(url));
  }
  return li;
}
