/**
 * The project page's scripts besides the Model panel (projectModel.ts): the DICOM card, the Export
 * card and the live embedding counts. One Vite entry, loaded by templates/projects/detail.html.
 */
import { startDicomSettings } from "./dicomSettings";
import { startExports } from "./exports";
import { startProjectLive } from "./projectLive";

startDicomSettings();
startExports();
startProjectLive();
