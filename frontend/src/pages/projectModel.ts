/**
 * The project page's Model panel (templates/projects/_model.html): the active model, its lineage and
 * measured quality; the runs with base vs fine-tuned held-out metrics; the versions. Managers start a
 * run (then follow its progress and loss curve, polled every 2 s, and may cancel it), promote or roll
 * back a version, and set continuous learning. Others see the same without the buttons (the API
 * refuses them anyway). Text and geometry come from finetune/format.ts.
 */
import * as api from "../api/finetuning";
import type { FinetuneRun, ModelVersion, PromoteRule } from "../api/finetuning";
import {
  DEFAULT_MODEL_WARNING_SHORT,
  curveCaption,
  METRIC_ROWS,
  better,
  durationText,
  isActive,
  lineage,
  lossCurvePoints,
  measuredQuality,
  metricValue,
  nextRunText,
  progressText,
  qualityText,
  refId,
  stepRows,
} from "../finetune/format";

/** The page view's initial JSON (annotator/views.py _model_panel_context). */
interface PanelConfig {
  readonly project_id: number;
  readonly can_manage: boolean;
  readonly retrain_every: number;
  /** Approvals/corrections still needed before the next automatic run; null when off or unknown. */
  readonly next_run_after: number | null;
  readonly active: { readonly id: number; readonly name: string; readonly builtin_default: boolean };
}

const ACTIVE_POLL_MS = 2000;
// Runs also start without this page (continuous learning, the command line, another manager).
const IDLE_POLL_MS = 15000;

const byId = <T extends HTMLElement>(id: string): T | null => document.getElementById(id) as T | null;

function element<K extends keyof HTMLElementTagNameMap>(tag: K, text = "", className = ""): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  node.textContent = text;
  if (className !== "") {
    node.className = className;
  }
  return node;
}

class ModelPanel {
  private runs: readonly FinetuneRun[] = [];
  private versions: readonly ModelVersion[] = [];
  private timer: ReturnType<typeof setTimeout> | null = null;
  private readonly projectId: number;

  constructor(private readonly root: HTMLElement, private readonly config: PanelConfig) {
    this.projectId = config.project_id;
  }

  start(): void {
    byId<HTMLFormElement>("finetune-form")?.addEventListener("submit", (event) => {
      event.preventDefault();
      void this.startRun(event.target as HTMLFormElement);
    });
    byId("finetune-cancel")?.addEventListener("click", () => void this.cancel());
    byId<HTMLFormElement>("retrain-form")?.addEventListener("submit", (event) => {
      event.preventDefault();
      void this.saveRetrain(event.target as HTMLFormElement);
    });
    this.renderRetrain(this.config.retrain_every, this.config.next_run_after);
    void this.refresh();
  }

  /** Runs and versions from the API, then the next poll: fast while a run is active. */
  private async refresh(): Promise<void> {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    try {
      [this.runs, this.versions] = await Promise.all([api.listRuns(this.projectId), api.listVersions(this.projectId)]);
      this.render();
    } catch (error) {
      this.showError(`The model panel could not be loaded: ${api.errorText(error)}`);
    }
    const active = this.runs.find(isActive);
    this.timer = setTimeout(() => void (active ? this.follow(active.id) : this.refresh()), active ? ACTIVE_POLL_MS : IDLE_POLL_MS);
  }

  /** Poll one active run; when it ends, everything is loaded again (result, versions, active model). */
  private async follow(runId: number): Promise<void> {
    try {
      const run = await api.getRun(runId);
      this.runs = this.runs.map((row) => (row.id === run.id ? run : row));
      if (!isActive(run)) {
        await this.refresh();
        return;
      }
      this.renderLatest(run);
      this.renderRuns();
    } catch (error) {
      this.showError(`Progress could not be read: ${api.errorText(error)}`);
    }
    this.timer = setTimeout(() => void this.follow(runId), ACTIVE_POLL_MS);
  }

  private async startRun(form: HTMLFormElement): Promise<void> {
    const data = new FormData(form);
    const statuses = data.get("statuses") === "all" ? ["draft", "submitted", "approved"] : ["approved"];
    const body = {
      minutes: Number(data.get("minutes")),
      statuses,
      promote: (data.get("promote") ?? "auto") as PromoteRule,
      train_encoder: data.get("train_encoder") === "on",
    };
    const submit = form.querySelector("button");
    submit?.setAttribute("disabled", "");
    this.showError("");
    try {
      const run = await api.startRun(this.projectId, body);
      this.runs = [run, ...this.runs.filter((row) => row.id !== run.id)];
      this.render();
      if (this.timer !== null) {
        clearTimeout(this.timer);
      }
      this.timer = setTimeout(() => void this.follow(run.id), ACTIVE_POLL_MS);
    } catch (error) {
      this.showError(api.errorText(error));
    } finally {
      submit?.removeAttribute("disabled");
    }
  }

  private async cancel(): Promise<void> {
    const active = this.runs.find(isActive);
    if (active === undefined) {
      return;
    }
    try {
      const run = await api.cancelRun(active.id);
      this.runs = this.runs.map((row) => (row.id === run.id ? run : row));
      this.renderLatest(run);
    } catch (error) {
      this.showError(api.errorText(error));
    }
  }

  private async activate(version: ModelVersion): Promise<void> {
    this.showError("");
    try {
      await api.activateVersion(this.projectId, version.id);
      this.notice(`Now using ${version.name}. Open annotator pages pick it up on their next image.`);
      await this.refresh();
    } catch (error) {
      this.showError(api.errorText(error));
    }
  }

  private async saveRetrain(form: HTMLFormElement): Promise<void> {
    const value = Number(new FormData(form).get("retrain_every"));
    if (!Number.isInteger(value) || value < 0) {
      this.showError("Retrain every: a whole number, 0 or more.");
      return;
    }
    try {
      const project = await api.setRetrainEvery(this.projectId, value);
      const saved = project.retrain_every ?? value;
      const remaining = project.retrain_due_in ?? null;
      this.renderRetrain(saved, remaining);
      this.showError("");
      this.notice(saved > 0 ? `Continuous learning: every ${saved} approvals or corrections.` : "Continuous learning is off.");
    } catch (error) {
      this.showError(api.errorText(error));
    }
  }

  private render(): void {
    this.renderModel();
    this.renderLatest(this.runs[0] ?? null);
    this.renderRuns();
    this.renderVersions();
  }

  private renderModel(): void {
    const active = this.versions.find((version) => version.active);
    if (active === undefined) {
      return;
    }
    this.root.dataset["activeModelId"] = String(active.id);
    byId("model-active-name")!.textContent = active.name;
    const chain = lineage(this.versions, active.id);
    byId("model-lineage")!.textContent = chain.length > 1 ? `(version ${chain.length - 1}: ${chain.map((v) => v.name).join(" → ")})` : "";
    byId("model-quality")!.textContent = `Measured quality: ${qualityText(measuredQuality(active, this.runs))}`;
    byId("model-default-warning")!.hidden = !active.builtin_default;
  }

  /** The latest run: live progress and loss curve while it is active, its last state after. */
  private renderLatest(run: FinetuneRun | null): void {
    const box = byId("finetune-active")!;
    box.hidden = run === null;
    const active = run !== null && isActive(run);
    this.root.dataset["runStatus"] = run?.status ?? "";
    byId("finetune-start")?.toggleAttribute("disabled", active);
    if (run === null) {
      return;
    }
    const ended = active ? "" : ` — ${run.decision === "" ? run.message || "no version kept" : `version ${run.decision}`}`;
    byId("finetune-progress")!.textContent = `Run #${run.id}: ${progressText(run)}${ended}`;
    byId("finetune-curve-line")!.setAttribute("points", lossCurvePoints(stepRows(run.history), 320, 90));
    const cancel = byId("finetune-cancel");
    byId("finetune-curve-caption")!.textContent = curveCaption(stepRows(run.history));
    if (cancel !== null) {
      cancel.style.display = active ? "" : "none"; // buttons are display: inline-block, which beats [hidden]
      cancel.toggleAttribute("disabled", run.cancel_requested === true);
    }
  }

  private renderRuns(): void {
    const body = this.root.querySelector("#finetune-runs tbody")!;
    body.replaceChildren();
    if (this.runs.length === 0) {
      const row = element("tr", "", "muted");
      const cell = element("td", "No runs yet.");
      cell.colSpan = 10;
      row.append(cell);
      body.append(row);
      return;
    }
    for (const run of this.runs) {
      const row = element("tr");
      row.dataset["runId"] = String(run.id);
      row.dataset["status"] = run.status;
      const started = new Date(run.created_at).toLocaleString(undefined, { dateStyle: "short", timeStyle: "short" });
      row.append(element("td", `#${run.id} ${started}`), element("td", run.status, "run-status"));
      row.append(element("td", run.train_objects ? `${run.train_objects} / ${run.heldout_objects ?? 0}` : "–"));
      for (const metric of METRIC_ROWS) {
        const base = run.metrics?.base;
        const tuned = run.metrics?.tuned;
        const cell = element("td", `${metricValue(base, metric.key, metric.percent)} → ${metricValue(tuned, metric.key, metric.percent)}`);
        cell.dataset["metric"] = metric.key;
        const gain = better(base?.[metric.key], tuned?.[metric.key], metric.lowerIsBetter);
        cell.className = gain === null ? "" : gain ? "metric-better" : "metric-worse";
        row.append(cell);
      }
      const result = run.result_model_name ?? this.versions.find((version) => version.id === refId(run.result_model))?.name;
      row.append(element("td", run.decision === "" ? "–" : `${run.decision}${result ? ` (${result})` : ""}`, "decision"));
      row.append(element("td", durationText(run.seconds)));
      body.append(row);
      if (run.message !== "") {
        // How it ended (or why it failed), under its row across the table.
        const note = element("tr", "", "run-message");
        const cell = element("td", run.message, run.status === "failed" ? "error" : "muted");
        cell.colSpan = 10;
        note.append(cell);
        body.append(note);
      }
    }
  }

  private renderVersions(): void {
    const list = byId("model-versions")!;
    list.replaceChildren();
    const active = this.versions.find((version) => version.active);
    const ancestors = new Set(lineage(this.versions, active?.id ?? null).map((version) => version.id));
    for (const version of this.versions) {
      const item = element("li");
      item.dataset["modelId"] = String(version.id);
      item.append(element("strong", version.name));
      if (version.active) item.append(" ", element("span", "active", "status status-ready"));
      if (version.builtin_default) item.append(" ", element("span", DEFAULT_MODEL_WARNING_SHORT, "muted small"));
      const parent = this.versions.find((other) => other.id === version.parent_id);
      const details = [parent ? `from ${parent.name}` : "base model", qualityText(measuredQuality(version, this.runs))];
      if (version.training_seconds !== null) details.push(`trained ${durationText(version.training_seconds)}`);
      item.append(element("div", details.join(" · "), "muted small"));
      if (this.config.can_manage && !version.active) {
        const rollBack = ancestors.has(version.id);
        const activate = element("button", rollBack ? "Roll back to this version" : "Promote (make active)", "activate");
        activate.type = "button";
        activate.addEventListener("click", () => void this.activate(version));
        item.append(activate);
      }
      list.append(item);
    }
  }

  private renderRetrain(retrainEvery: number, remaining: number | null): void {
    byId("retrain-next")!.textContent = nextRunText(retrainEvery, remaining);
  }

  private showError(message: string): void {
    const box = byId("model-error")!;
    box.textContent = message;
    box.hidden = message === "";
  }

  private notice(message: string): void {
    const box = byId("model-notice")!;
    box.textContent = message;
    box.hidden = false;
  }
}

function start(): void {
  const root = byId("model-panel");
  const configElement = byId("model-panel-config");
  if (root === null || configElement === null) {
    return;
  }
  new ModelPanel(root, JSON.parse(configElement.textContent ?? "{}") as PanelConfig).start();
}

if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", start, { once: true });
} else {
  start();
}
