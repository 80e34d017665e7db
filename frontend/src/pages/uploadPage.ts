/** The upload page's Vite entry (templates/projects/upload.html). */
import { startUpload } from "./upload";

startUpload();
