/** Vite's worker import suffix: the module's default export constructs the worker. */
declare module "*?worker&inline" {
  const WorkerConstructor: new () => Worker;
  export default WorkerConstructor;
}
