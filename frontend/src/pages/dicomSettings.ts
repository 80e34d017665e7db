/**
 * DICOM card of the project page (templates/projects/detail.html, managers only): saves the
 * de-identification setting, the burned-in annotation rule and the project's window through
 * PATCH /api/projects/<id>/ and shows the outcome, or the API's reasons when it refuses (docs/dicom.md).
 */
import { ApiError } from "../api/http";
import { reasonsOf, updateProject, type ProjectUpdate } from "../api/projects";
import { byId } from "./dom";

interface RenderState {
  readonly status?: string;
  readonly done?: number;
  readonly total?: number;
}

export function startDicomSettings(): void {
  const section = document.getElementById("dicom-settings");
  const form = document.getElementById("dicom-form") as HTMLFormElement | null;
  if (section === null || form === null) {
    return;
  }
  const mode = byId<HTMLSelectElement>("dicom-window");
  const status = byId<HTMLElement>("dicom-status");
  mode.addEventListener("change", () => {
    byId<HTMLElement>("dicom-custom").hidden = mode.value !== "custom";
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    let windowChoice: ProjectUpdate["dicom_window"] = mode.value === "file" ? null : mode.value;
    if (mode.value === "custom") {
      windowChoice = {
        center: Number(byId<HTMLInputElement>("dicom-center").value),
        width: Number(byId<HTMLInputElement>("dicom-width").value),
      };
    }
    status.textContent = "Saving…";
    const body: ProjectUpdate = {
      dicom_deidentify: byId<HTMLInputElement>("dicom-deidentify").checked,
      dicom_burned_in: byId<HTMLSelectElement>("dicom-burned-in").value as NonNullable<ProjectUpdate["dicom_burned_in"]>,
      dicom_window: windowChoice,
    };
    updateProject(section.dataset.apiUrl ?? "", body).then(
      (project) => {
        const render = (project.dicom_render_state ?? {}) as RenderState;
        status.dataset.state = "saved";
        status.textContent =
          "Saved." + (render.status ? ` Re-render: ${render.status} ${render.done ?? 0}/${render.total ?? 0}` : "");
      },
      (error: unknown) => {
        status.dataset.state = "error";
        status.textContent =
          "Not saved: " + (error instanceof ApiError ? reasonsOf(error.body, `server answered ${error.status}`) : String(error));
      },
    );
  });
}
